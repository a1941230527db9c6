from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0013_slide_title'),
    ]

    operations = [
        migrations.AddField(
            model_name='workerhost',
            name='gpu_count',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='workerhost',
            name='gpu_names',
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name='workerhost',
            name='encoders',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='resourcesample',
            name='gpu_utilisation_percent',
            field=models.FloatField(blank=True, help_text="Mean over the host's GPUs.", null=True),
        ),
    ]
