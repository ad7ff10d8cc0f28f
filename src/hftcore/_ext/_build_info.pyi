from typing import Any

BUILD_INFO: dict[str, Any]
