"""The cURL examples the full stack runs (tests/integration/test_spec_curl_examples.py) are
the API reference's, changed only in base URL and token."""

from __future__ import annotations

import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = REPOSITORY / "tests" / "integration" / "spec_examples" / "curl_examples.sh"
SPEC = REPOSITORY / "docs" / "API_REFERENCE.md"


def test_the_curl_examples_file_is_every_curl_block_of_the_spec_but_for_url_and_token():
    blocks = [b for b in re.findall(r"```bash\n(.*?)```", SPEC.read_text(), re.S) if "curl" in b]
    published = "\n".join(blocks)
    published = published.replace("https://api.vokaflow.com", "${VOKAFLOW_BASE_URL}")
    published = published.replace("your_jwt_token", "${VOKAFLOW_TOKEN}")
    assert EXAMPLES.read_text().split("verbatim from the spec\n", 1)[1] == published
