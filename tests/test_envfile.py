"""Reading env files: valid forms (BOM, CRLF, export, quotes, comments) and bad input."""
import os

import pytest

from flash_green_ops.envfile import EnvFileError, parse_env_text, read_env_file


def test_valid_forms_keep_their_line_numbers(tmp_path):
    path = tmp_path / "a.env"
    path.write_bytes(
        b"\xef\xbb\xbf# comment\r\nexport API_KEY=k1\r\n\r\nDB_NAME='fg db' # trailing comment\r\n"
        b'OIDC_AUDIENCE="a\\nb"\r\nEMPTY=\r\n')
    source = read_env_file(path)
    assert source.values == {"API_KEY": "k1", "DB_NAME": "fg db", "OIDC_AUDIENCE": "a\nb", "EMPTY": ""}
    assert [source.line_of(k) for k in ("API_KEY", "DB_NAME", "OIDC_AUDIENCE", "EMPTY")] == [2, 4, 5, 6]
    assert source.where("DB_NAME") == f"{path} line 4"
    assert not source.is_set("EMPTY") and source.is_set("API_KEY")


def test_last_assignment_wins_and_both_are_kept():
    source = parse_env_text("A=1\nA=2\n", "x")
    assert source.values["A"] == "2" and [e.line for e in source.entries] == [1, 2]


@pytest.mark.parametrize("make, expected", [
    (lambda p: p / "missing.env", "missing.env: no such file"),
    (lambda p: p, "is a directory, not an env file"),
    (lambda p: (p / "latin1.env").write_bytes(b"A=1\nB=caf\xe9\n") and p / "latin1.env",
     "latin1.env line 2: not UTF-8 text (byte 0xe9"),
    (lambda p: (p / "bad.env").write_text("A=1\nthis is not an assignment\n") and p / "bad.env",
     "bad.env line 2: not a KEY=value assignment"),
    (lambda p: (p / "nul.env").write_bytes(b"A=1\x00\n") and p / "nul.env", "contains NUL bytes"),
])
def test_unreadable_input_is_one_line(tmp_path, make, expected):
    with pytest.raises(EnvFileError) as info:
        read_env_file(make(tmp_path))
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_permission_denied(tmp_path):
    path = tmp_path / "secret.env"
    path.write_text("A=1\n")
    path.chmod(0)
    if os.geteuid() != 0:
        with pytest.raises(EnvFileError, match="permission denied"):
            read_env_file(path)
        return
    # Root reads anything: drop to nobody in a forked child to provoke a real EACCES.
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            os.setgid(65534)
            os.setuid(65534)
            read_env_file(path)
            message = b"read it"
        except EnvFileError as exc:
            message = str(exc).encode()
        os.write(write_end, message)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    assert message == f"{path}: permission denied"
