"""The SMTP transport: STARTTLS + AUTH, implicit TLS, no plaintext downgrade, secrets, Maildir."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.notify import SMTPTransport
from monitor.store.models import Notification
from monitor.testing.smtp import SMTPSink
from tests.support import rows

from .conftest import NotifierFactory
from .helpers import T0, add_incident, make_config, outbox, sink_smtp


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "smtp-password"
    path.write_text("s3cret\n")
    return path


async def test_starttls_and_auth_against_the_sink(
    sessions: async_sessionmaker[AsyncSession], password_file: Path, make_notifier: NotifierFactory
) -> None:
    async with SMTPSink(tls=True, auth=("sla", "s3cret")) as sink:
        config = make_config(
            sink_smtp(sink, tls="starttls", username="sla", password_file=str(password_file))
        )
        transport = SMTPTransport.from_config(config.smtp, tls_context=sink.client_tls_context())
        notifier = make_notifier(config, transport=transport)
        await notifier.on_incident_opened(await add_incident(sessions))
        await notifier.run_once()
        assert len(sink.messages) == 3
        assert all(m.tls and m.authenticated_as == "sla" for m in sink.messages)
        assert {m.status for m in await outbox(sessions)} == {"sent"}


async def test_the_password_comes_from_a_systemd_credential(
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_notifier: NotifierFactory,
) -> None:
    # What LoadCredential=smtp-password:... leaves for the service: a read-only file in
    # $CREDENTIALS_DIRECTORY, named in the configuration by the variable (not by its path).
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "smtp-password").write_text("s3cret\n")
    (credentials / "smtp-password").chmod(0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    async with SMTPSink(tls=True, auth=("sla", "s3cret")) as sink:
        smtp = sink_smtp(
            sink, tls="starttls", username="sla",
            password_file="${CREDENTIALS_DIRECTORY}/smtp-password",
        )
        config = make_config(smtp)
        transport = SMTPTransport.from_config(config.smtp, tls_context=sink.client_tls_context())
        notifier = make_notifier(config, transport=transport)
        await notifier.on_incident_opened(await add_incident(sessions))
        await notifier.run_once()
        assert len(sink.messages) == 3
        assert all(m.tls and m.authenticated_as == "sla" for m in sink.messages)
        # Started outside systemd, the same configuration stops with the setting named.
        monkeypatch.delenv("CREDENTIALS_DIRECTORY")
        with pytest.raises(ConfigError, match=r"smtp\.password_file: '\$\{CREDENTIALS_DIRECTORY\}"):
            SMTPTransport.from_config(config.smtp)


async def test_a_server_without_starttls_fails_instead_of_sending_in_plaintext(
    sessions: async_sessionmaker[AsyncSession], sink: SMTPSink, make_notifier: NotifierFactory
) -> None:
    config = make_config(sink_smtp(sink, tls="starttls"), provider={"operators": []})
    notifier = make_notifier(config)
    await notifier.on_incident_opened(await add_incident(sessions))
    await notifier.run_once()
    assert sink.messages == []  # not one byte of a message in plaintext
    messages = await outbox(sessions)
    assert {m.status for m in messages} == {"failed"}
    assert all("STARTTLS" in (m.last_error or "") for m in messages)
    assert await rows(sessions, Notification) == []


async def test_a_wrong_password_is_a_permanent_failure(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, make_notifier: NotifierFactory
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("guess")
    async with SMTPSink(tls=True, auth=("sla", "s3cret")) as sink:
        config = make_config(
            sink_smtp(sink, tls="starttls", username="sla", password_file=str(wrong)),
            provider={"operators": []},
        )
        transport = SMTPTransport.from_config(config.smtp, tls_context=sink.client_tls_context())
        notifier = make_notifier(config, transport=transport)
        await notifier.on_incident_opened(await add_incident(sessions))
        await notifier.run_once()
        assert sink.messages == []
        messages = await outbox(sessions)
        assert {m.status for m in messages} == {"failed"}
        assert "authentication failed: 535" in (messages[0].last_error or "")


# aiosmtpd cannot tell that an implicit-TLS session is encrypted, so it warns about AUTH.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_implicit_tls(
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    make_notifier: NotifierFactory,
) -> None:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    async with SMTPSink(implicit_tls=True, auth=("sla", "s3cret")) as sink:
        smtp = sink_smtp(sink, tls="implicit", username="sla", password_env="TEST_SMTP_PASSWORD")
        config = make_config(smtp)
        transport = SMTPTransport.from_config(config.smtp, tls_context=sink.client_tls_context())
        notifier = make_notifier(config, transport=transport)
        await notifier.on_incident_opened(await add_incident(sessions))
        await notifier.run_once()
        assert len(sink.messages) == 3 and all(m.tls for m in sink.messages)


async def test_a_missing_secret_is_a_clear_error_at_start(
    tmp_path: Path, sink: SMTPSink, make_notifier: NotifierFactory
) -> None:
    missing = tmp_path / "nope"
    config = make_config(sink_smtp(sink, username="sla", password_file=str(missing)))
    with pytest.raises(ConfigError) as caught:
        await make_notifier(config).start()
    assert "smtp.password_file" in str(caught.value) and str(missing) in str(caught.value)
    config = make_config(sink_smtp(sink, username="sla", password_env="NO_SUCH_VARIABLE_X"))
    with pytest.raises(ConfigError, match=r"smtp\.password_env: environment variable"):
        await make_notifier(config).start()
    with pytest.raises(ConfigError, match=r"smtp\.username: a username needs"):
        await make_notifier(make_config(sink_smtp(sink, username="sla"))).start()


async def test_without_smtp_mail_goes_to_the_maildir(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, make_notifier: NotifierFactory
) -> None:
    maildir = tmp_path / "Maildir"
    notifier = make_notifier(make_config(None, maildir=str(maildir)))
    incident_id = await add_incident(sessions)
    await notifier.on_incident_opened(incident_id)
    await notifier.run_once()
    box = mailbox.Maildir(maildir, create=False)
    messages = list(box)
    assert len(messages) == 3
    acme = next(m for m in messages if "tech@acme.example" in m["To"])
    assert acme["From"] == '"Rabit Hosting" <sla-monitor@localhost>' or acme["From"] == (
        "Rabit Hosting <sla-monitor@localhost>"
    )
    assert acme.get_all("Delivered-To") == ["tech@acme.example", "ceo@acme.example"]
    sent = {m.dedupe_key: m for m in await outbox(sessions)}
    assert sent[f"outage:{incident_id}:acme"].accepted_at == T0  # "accepted" = written
    assert "written to Maildir" in (sent[f"outage:{incident_id}:acme"].smtp_response or "")
    assert len(await rows(sessions, Notification)) == 2


async def test_reconfigure_applies_new_contacts_and_refuses_a_missing_secret(
    sessions: async_sessionmaker[AsyncSession], sink: SMTPSink, make_notifier: NotifierFactory
) -> None:
    config = make_config(sink_smtp(sink))
    notifier = make_notifier(config)
    await notifier.start()
    data = config.model_dump(by_alias=True)
    data["customers"][1]["contacts"]["technical"]["email"] = "new-it@bita.example"
    reloaded = type(config).model_validate(data)
    notifier.reconfigure(Settings.from_config(reloaded))
    broken = make_config(sink_smtp(sink, username="sla", password_env="NO_SUCH_VARIABLE_X"))
    with pytest.raises(ConfigError):
        notifier.reconfigure(Settings.from_config(broken))
    await notifier.on_incident_opened(await add_incident(sessions))
    await sink.wait_for(3)
    assert ("new-it@bita.example",) in [m.rcpt_tos for m in sink.messages]
