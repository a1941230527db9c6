from django.db import migrations


def create_default_persona(apps, schema_editor):
    Persona = apps.get_model("jobs", "Persona")
    Persona.objects.get_or_create(
        name="Joe (US English)",
        defaults={"tts_engine": "piper", "voice": "en_US-joe-medium", "language": "en-US"},
    )


class Migration(migrations.Migration):
    dependencies = [("jobs", "0001_initial")]

    operations = [migrations.RunPython(create_default_persona, migrations.RunPython.noop)]
