"""How a compiled extension's wheel says which torch it runs on, read from its metadata (a wheel built in
memory here, served by a stand-in for the package index)."""
import io
import json
import urllib.error
import zipfile

import pytest

from slingshot.lock_extensions import EXTENSIONS, accepts, simple_index_files, torch_requirement, wheel_metadata

METADATA = ("Metadata-Version: 2.1\nName: ext\nRequires-Dist: numpy\n"
            "Requires-Dist: torch ; extra == 'dev'\nRequires-Dist: torch (>=2.10,<3)\n")


def test_torch_requirement_skips_extras():
    assert torch_requirement(METADATA) == ">=2.10,<3"
    assert torch_requirement("Requires-Dist: torch\n") == ""
    assert torch_requirement("Requires-Dist: torch ; extra == 'x'\n") is None


def test_torch_requirement_is_not_fooled_by_torchvision():
    assert torch_requirement("Requires-Dist: torchvision>=1\nRequires-Dist: torch>=2\n") == ">=2"


@pytest.mark.parametrize("specifier,version,ok", [
    (">=2.10,<3", "2.13.0+cu126", True), (">=2.10", "2.9.1", False), ("==2.13.*", "2.13.1", True),
    ("==2.12.*", "2.13.1", False), ("!=2.13.*", "2.13.0", False), ("~=2.10", "2.13.0", True),
    ("<2.13", "2.13.0", False), ("", "2.13.0", True), ("==2.13.0", "2.13.0+cpu", True)])
def test_accepts(specifier, version, ok):
    assert accepts(specifier, version) is ok


class Index:
    """What the index answers by URL; a URL it lacks is a 404, as the index's."""
    def __init__(self, pages):
        self.pages, self.asked = pages, []

    def __call__(self, request, timeout):
        url = getattr(request, "full_url", request)
        self.asked.append(url)
        if url not in self.pages:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        return io.BytesIO(self.pages[url])


def test_metadata_from_the_side_file_else_from_the_wheel():
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("ext-1.0.dist-info/METADATA", METADATA)
    index = Index({"https://x/ext.whl": wheel.getvalue(), "https://x/side.whl.metadata": b"Requires-Dist: torch\n"})
    assert torch_requirement(wheel_metadata("https://x/ext.whl", index)) == ">=2.10,<3"
    assert wheel_metadata("https://x/side.whl", index) == "Requires-Dist: torch\n"
    assert index.asked == ["https://x/ext.whl.metadata", "https://x/ext.whl", "https://x/side.whl.metadata"]


def test_the_simple_index_lists_files():
    files = [{"filename": "ext-1.0-py3-none-any.whl", "url": "https://x/e.whl", "hashes": {"sha256": "ab"}}]
    from slingshot.locks import INDEX
    index = Index({f"{INDEX}/ext/": json.dumps({"files": files}).encode()})
    assert simple_index_files("ext", index) == files


def test_every_listed_extension_says_how_it_binds_and_why():
    for package, (rule, why) in EXTENSIONS.items():
        assert rule in ("metadata", "unused", "source") and len(why) > 20, package
