"""`cdp token issue` and `cdp token revoke` on a local install's credentials."""

from __future__ import annotations

from click.testing import CliRunner

from cdp.cli.main import main
from cdp.platform.security import credentials
from cdp.platform.tokens import read_revoked


def cdp(tmp_path, *args: str):
    return CliRunner().invoke(main, list(args), env={"CDP_DATA_DIR": str(tmp_path), "CDP_CREDENTIALS_DIR": ""})


def test_a_token_is_issued_within_the_maximum_lifetime_and_revoked_by_token_or_id(tmp_path):
    refused = cdp(tmp_path, "token", "issue", "--subject", "ana", "--role", "admin", "--ttl", "7200")
    assert refused.exit_code != 0 and "at most 3600 s" in refused.output
    issued = cdp(tmp_path, "token", "issue", "--subject", "ana", "--role", "admin", "--ttl", "600")
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip()
    token_id = credentials(tmp_path).verifier().verify(token).token_id
    revoked = cdp(tmp_path, "token", "revoke", token)
    assert revoked.exit_code == 0 and token_id in revoked.output
    assert cdp(tmp_path, "token", "revoke", "an-id-given-alone").exit_code == 0
    path = credentials(tmp_path).revoked_file
    assert set(read_revoked(path)) == {token_id, "an-id-given-alone"}
    assert path.stat().st_mode & 0o077 == 0
    forged = cdp(tmp_path, "token", "revoke", token[:-4] + "AAAA")
    assert forged.exit_code != 0 and "not a token of this platform" in forged.output
