"""The processes of `relais dev` and their order (see services.cli.dev for the why)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from services.cli import demo
from services.cli.catalog import (
    IDENTITY_PROVIDER,
    JWKS_PATH,
    RECEIVER_NAME,
    SERVICES,
    ServiceSpec,
)
from services.cli.demo_receiver import SECRET_ENV as RECEIVER_SECRET_ENV
from services.cli.demo_receiver import provision_partner
from services.cli.options import HOST, DevOptions
from services.cli.procs import (
    Child,
    DevError,
    PortClaim,
    port_conflict,
    spawn,
    stop_all,
    tail,
    wait_ready,
)
from services.cli.replay import EPOCH, replay_service
from services.directory import demo_data
from services.kit.embedded import EmbeddedBroker, PortInUseError
from services.kit.messaging import all_topic_names, ensure_topics
from services.notify.people.devmail import dev_stack_env


class DevStack:
    def __init__(self, options: DevOptions, console: Console) -> None:
        self.options, self.console = options, console
        self.var = options.var_dir.resolve()
        self.credentials_path = self.var / "demo-credentials.json"
        self.external_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None
        self.broker: EmbeddedBroker | None = None
        self.bootstrap = self.external_kafka or f"{HOST}:{options.kafka_port}"
        self.children: list[Child] = []
        self.secrets = demo.DemoSecrets.generate()
        self.activation: asyncio.Task[None] | None = None  # demo accounts, in the background

    def url(self, name: str) -> str:
        port = self.options.receiver_port if name == RECEIVER_NAME else self.options.ports[name]
        return f"http://{HOST}:{port}"

    @property
    def receiver_webhook_url(self) -> str:
        return f"{self.url(RECEIVER_NAME)}/webhooks"

    def port_claims(self) -> list[PortClaim]:
        claims = [PortClaim(s.name, self.options.ports[s.name], s.port_option) for s in SERVICES]
        claims.append(PortClaim(RECEIVER_NAME, self.options.receiver_port, "--receiver-port"))
        if not self.external_kafka:
            claims.insert(0, PortClaim("kafka", self.options.kafka_port, "--kafka-port"))
        return claims

    # --- start ------------------------------------------------------------------------
    async def up(self) -> None:
        conflict = port_conflict(HOST, self.port_claims())
        if conflict:
            raise DevError(conflict)
        kept = self._prepare_var()
        await self._start_broker()
        await ensure_topics(self.bootstrap, all_topic_names(), self.options.partitions)
        if self.options.keep:
            await self._replay_kept()
        self._spawn_all()
        await wait_ready(self.children, self.console, self.options.ready_timeout)
        if kept is not None and kept.get("members"):
            self.console.print("Données conservées : démo déjà chargée.")
            self._resume_activation(kept)
        else:
            await self._load_demo()

    def _prepare_var(self) -> dict[str, object] | None:
        """Wipe var/ (clean demo) or keep it and reuse its secrets; return kept credentials."""
        kept = demo.read_credentials(self.credentials_path) if self.options.keep else None
        if not self.options.keep and self.var.exists():
            shutil.rmtree(self.var)
        (self.var / "logs").mkdir(parents=True, exist_ok=True)
        if kept is not None:
            self.secrets = demo.DemoSecrets.from_credentials(kept) or self.secrets
        return kept

    async def _start_broker(self) -> None:
        if self.external_kafka:
            self.console.print(f"Kafka : cluster externe {self.external_kafka}")
            return
        self.broker = EmbeddedBroker(HOST, self.options.kafka_port, self.var / "logs" / "kafka.log")
        with self.console.status("Démarrage du broker Kafka embarqué (Tansu)…"):
            try:
                await self.broker.start()
            except PortInUseError as exc:
                self.broker = None
                raise DevError(
                    f"Le port {self.options.kafka_port} (kafka) est déjà utilisé : arrêtez "
                    "l'autre processus ou choisissez un autre port (--kafka-port)."
                ) from exc
        self.console.print(f"  [green]✓[/] Kafka embarqué sur {self.bootstrap}")

    async def _replay_kept(self) -> None:
        for spec in SERVICES:
            try:
                settings = spec.settings_class()(
                    var_dir=self.var, port=self.options.ports[spec.name]
                )
                count = await replay_service(
                    spec,
                    EPOCH,
                    settings=settings,
                    bootstrap=self.bootstrap,
                    partitions=self.options.partitions,
                )
            except Exception as exc:
                raise DevError(f"rejeu de l'outbox de {spec.name} impossible : {exc}") from exc
            if count:
                self.console.print(f"  ↻ {spec.name} : {count} événement(s) rejoué(s)")

    def _env(self) -> dict[str, str]:
        """One environment for every child: each service reads only its own prefix."""
        env = dict(os.environ)
        env.update(
            PYTHONUNBUFFERED="1",
            KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            RELAIS_ENVIRONMENT="development",
            DIRECTORY_ADMIN_KEY=self.secrets.admin_key,
        )
        # The demo partner subscribes through notify's API (see _provision_partner), and the
        # dev stack runs notify whole whatever the shell says.
        env.pop("NOTIFY_WEBHOOK_URL", None)
        env.pop("NOTIFY_PARTS", None)
        env[RECEIVER_SECRET_ENV] = self.secrets.webhook_secret
        jwks = self.url(IDENTITY_PROVIDER) + JWKS_PATH
        for spec in SERVICES:
            prefix = spec.env_prefix
            env[f"{prefix}HOST"] = HOST
            env[f"{prefix}PORT"] = str(self.options.ports[spec.name])
            env[f"{prefix}VAR_DIR"] = str(self.var)
            if spec.name != IDENTITY_PROVIDER:
                env[f"{prefix}JWKS_URL"] = jwks
        return env

    def _spawn_all(self) -> None:
        # notify's people channels: the dev SMTP server (var/mail/*.eml) and where to ask addresses
        env, logs = {**self._env(), **dev_stack_env(self.var, self.url)}, self.var / "logs"
        for spec in SERVICES:
            self.children.append(
                spawn(
                    spec.name,
                    self.url(spec.name),
                    service_argv(spec, HOST, self.options.ports[spec.name]),
                    env,
                    logs / f"{spec.name}.log",
                )
            )
        receiver_argv = [
            sys.executable,
            "-m",
            "services.cli.demo_receiver",
            "--host",
            HOST,
            "--port",
            str(self.options.receiver_port),
            "--inbox",
            str(self.var / "partner-inbox"),
        ]
        self.children.append(
            spawn(
                RECEIVER_NAME,
                self.url(RECEIVER_NAME),
                receiver_argv,
                env,
                logs / f"{RECEIVER_NAME}.log",
            )
        )

    async def _load_demo(self) -> None:
        directory = self.url(IDENTITY_PROVIDER)
        started = time.perf_counter()
        with self.console.status("Chargement des données de démo…") as status:

            def progress(step: str) -> None:
                status.update(f"Chargement des données de démo : {step}…")

            try:
                loaded = await demo.load_demo(directory, self.secrets.admin_key, progress=progress)
            except Exception as exc:
                log = self.var / "logs" / f"{IDENTITY_PROVIDER}.log"
                raise DevError(
                    f"données de démo non chargées : {exc}",
                    [(f"dernières lignes de {log}", tail(log))],
                ) from exc
        document = demo.credentials_document(
            loaded=loaded,
            secrets_=self.secrets,
            urls={s.name: self.url(s.name) for s in SERVICES},
            receiver_url=self.receiver_webhook_url,
            inbox=self.var / "partner-inbox",
            kafka_bootstrap=self.bootstrap,
        )
        document["partner"] = await self._provision_partner()
        demo.write_credentials(self.credentials_path, document)
        data = loaded.data
        self.console.print(
            f"  [green]✓[/] démo chargée en {time.perf_counter() - started:.1f} s : "
            f"{len(data.networks)} réseaux, {len(data.members)} structures, "
            f"{len(data.offers)} offres, {len(data.accounts)} comptes "
            f"(mot de passe {data.password}, docs/demo.md)"
        )
        if loaded.pending:
            self._start_activation(loaded.pending, document)

    async def _provision_partner(self) -> dict[str, Any]:
        """The stand-in France Active fund subscribes to the demo network's referral events."""
        try:
            partner = await provision_partner(
                directory_url=self.url(IDENTITY_PROVIDER),
                notify_url=self.url("notify"),
                admin_key=self.secrets.admin_key,
                receiver_url=self.receiver_webhook_url,
                secret=self.secrets.webhook_secret,
            )
        except Exception as exc:
            log = self.var / "logs" / "notify.log"
            raise DevError(
                f"partenaire de démo non abonné : {exc}",
                [(f"dernières lignes de {log}", tail(log))],
            ) from exc
        partner["inbox"] = str(self.var / "partner-inbox")
        self.console.print(
            f"  [green]✓[/] partenaire de démo abonné aux orientations de {partner['network_id']}"
        )
        return partner

    def _resume_activation(self, kept: dict[str, Any]) -> None:
        """A kept var/ whose demo accounts were not all activated: finish the job."""
        if kept.get("accounts_ready", True):
            return
        pending = demo.pending_from_credentials(demo_data.generate(), kept)
        if pending:
            self._start_activation(pending, kept)

    def _start_activation(
        self, pending: list[demo.PendingAccount], document: dict[str, Any]
    ) -> None:
        self.console.print(
            f"  … {len(pending)} comptes de démo reçoivent leur mot de passe en arrière-plan"
        )
        self.activation = asyncio.create_task(self._activate(pending, document))

    async def _activate(self, pending: list[demo.PendingAccount], document: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            done = await demo.activate_accounts(
                self.url(IDENTITY_PROVIDER), pending, demo_data.DEMO_PASSWORD
            )
        except Exception as exc:  # the stack stays up; only some logins will fail
            self.console.print(f"[yellow]Comptes de démo non activés :[/] {exc}", soft_wrap=True)
            return
        for account in document.get("accounts", []):
            if account.get("email") in done:
                account["active"] = True
        document["accounts_ready"] = True
        demo.write_credentials(self.credentials_path, document)
        self.console.print(
            f"  [green]✓[/] {len(done)} comptes de démo activés en "
            f"{time.perf_counter() - started:.1f} s"
        )

    # --- run and stop -------------------------------------------------------------------
    def summary(self) -> Table:
        # Light box: the table must stay readable in an 80-column terminal.
        table = Table(
            title="Relais — environnement de développement",
            title_justify="left",
            box=box.SIMPLE_HEAD,
        )
        for column in ("service", "URL", "docs", "santé"):
            table.add_column(column, no_wrap=True)
        for spec in SERVICES:
            url = self.url(spec.name)
            table.add_row(spec.name, url, f"{url}/docs", "/readyz")
        receiver = self.url(RECEIVER_NAME)
        table.add_row(RECEIVER_NAME, receiver, "POST /webhooks", "/readyz")
        table.add_row("kafka", self.bootstrap, "externe" if self.external_kafka else "embarqué", "")
        return table

    async def watch(self) -> None:
        """Return only by raising: a child or the broker died."""
        while True:
            for child in self.children:
                if not child.running():
                    raise child.died()
            if self.broker is not None and not self.broker.is_running():
                log = self.broker.log_path
                raise DevError("le broker Kafka s'est arrêté", [(str(log), tail(log))])
            await asyncio.sleep(0.5)

    def down(self) -> None:
        if self.activation is not None:
            self.activation.cancel()
            self.activation = None
        if self.children:
            self.console.print("Arrêt des services…")
            stop_all(self.children)
            self.children = []
        if self.broker is not None:
            self.broker.stop()
            self.broker = None


def service_argv(spec: ServiceSpec, host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        spec.app_factory,
        "--host",
        host,
        "--port",
        str(port),
    ]
