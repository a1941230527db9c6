"""S3 storage whose signed URLs may name a different endpoint than the one workers use."""

from __future__ import annotations

import boto3
from botocore.config import Config
from storages.backends.s3 import S3Storage


class SlidecastS3Storage(S3Storage):
    """Inside a private network the app reaches S3 as http://minio:9000, which browsers cannot.

    With `public_endpoint_url` set (SLIDECAST_S3_PUBLIC_ENDPOINT_URL), signed download URLs
    are made for that address instead; uploads and reads still use `endpoint_url`.
    """

    def __init__(self, *, public_endpoint_url: str | None = None, **settings) -> None:
        super().__init__(**settings)
        self.public_endpoint_url = public_endpoint_url

    def url(self, name, parameters=None, expire=None, http_method=None):
        if not self.public_endpoint_url:
            return super().url(name, parameters=parameters, expire=expire, http_method=http_method)
        client = boto3.client(
            "s3",
            endpoint_url=self.public_endpoint_url,
            region_name=self.region_name,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(signature_version=self.signature_version or "s3v4"),
        )
        return client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket_name,
                "Key": self._normalize_name(name),
                **(parameters or {}),
            },  # fmt: skip
            ExpiresIn=expire or self.querystring_expire,
            HttpMethod=http_method,
        )
