"""The GGUF backend's identity: keyed by the file's sha256, not the server's port, priced by wall time."""
import socket

from eval.backends import registry
from eval.backends.llamacpp import GGUFBackend, free_port


def test_a_free_port_can_be_bound():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    assert 0 < port < 65536


def test_the_identity_is_the_file_not_the_port(tmp_path):
    gguf = tmp_path / "model-Q8_0.gguf"
    one = GGUFBackend(gguf, "ab" * 32, "http://127.0.0.1:1111/v1")
    two = GGUFBackend(gguf, "ab" * 32, "http://127.0.0.1:2222/v1")
    assert one.identity() == two.identity() == {"backend": "llama.cpp", "model": "model-Q8_0.gguf",
                                                "gguf_sha256": "ab" * 32, "temperature": 0}
    assert one.spec == "gguf:model-Q8_0.gguf"
    adapter = GGUFBackend(tmp_path / "lora.gguf", "x+y", "http://127.0.0.1:1/v1", base=tmp_path / "base.gguf")
    assert adapter.files == [str(tmp_path / "base.gguf"), str(tmp_path / "lora.gguf")]
    assert adapter.info()["gguf_files"] == adapter.files and adapter.info()["device"] == "cpu"


def test_it_is_registered_made_by_its_command_and_priced_by_the_hour():
    assert registry()["gguf"] is GGUFBackend and not GGUFBackend.BUILT_BY_RUN
    cost = GGUFBackend.cost({"usd_per_hour": 3.6, "wall_s": 10}, [{"tokens_in": 1, "tokens_out": 1}], {})
    assert cost["basis"] == "wall time"
