"""Input kinds fedrender can read, by (apiVersion, kind)."""

from __future__ import annotations

from pydantic import BaseModel

from fedrender.models import mongodb

INPUT_KINDS: dict[tuple[str, str], type[BaseModel]] = {
    (mongodb.API_VERSION, mongodb.KIND): mongodb.MultiCloudMongoDB,
}
