"""The egress guard: a destination may only point at hosts the operator allowed, and never at this
machine or its private networks unless the platform runs locally.

A host is allowed when it matches a pattern of the allowlist (policy data `cdp.destinations.
allowed_hosts`): an exact name (`hooks.example.com`), a wildcard for subdomains (`*.example.com`,
which does not match example.com itself), `*` for any host, or a network (`203.0.113.0/24`, `2001:db8::/32`) that an
address literal, or every address the name resolves to, lies in. Then every address it resolves to
must be global: loopback, private, link-local (cloud metadata at 169.254.169.254), unspecified,
shared, reserved and multicast addresses are refused unless `local` is true. Address literals in the
legacy forms C libraries accept (`127.1`, `0x7f.0.0.1`, `2130706433`, `0177.0.0.1`) are read as the
address they name, so they cannot slip past as names.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from cdp.activation.destinations.fields import invalid

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[Address]]

POLICY_KEY = "cdp.destinations.allowed_hosts"
LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$")
SHARED = ipaddress.ip_network("100.64.0.0/10")
URL_FIELD = {"webhook": "url", "rabbitmq": "url", "nats": "url", "redis": "url"}


class EgressRefused(OSError):
    """A destination's host resolved, when connecting, to an address the platform may not reach."""


def refuse_local(host: str, resolve: Resolver | None = None) -> None:
    """Raise EgressRefused when the host is, or now resolves to, a non-public address.

    Run again at every connection: a name that was public when the destination was checked can be
    made to resolve to this machine later (DNS rebinding).
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    literal = address_literal(name)
    for address in [literal] if literal is not None else (resolve or resolve_host)(name):
        rule = non_global(address)
        if rule:
            raise EgressRefused(f"egress refused: {host} is {address}, a {rule} address")


def allowed_hosts(policy_data: Mapping[str, Any]) -> list[str]:
    """The allowlist from the policy bundle's data (empty when the data names none: nothing allowed)."""
    hosts = policy_data.get("cdp", {}).get("destinations", {}).get("allowed_hosts", [])
    return [str(h) for h in hosts]


def check_address(
    kind: str,
    config: Mapping[str, Any],
    allowlist: Sequence[str],
    local: bool,
    resolve: Resolver | None = None,
) -> None:
    """Refuse (InvalidArgument naming the field and the rule) a destination whose host is not allowed.

    config is the destination's whole configuration, secret fields included (a PostgreSQL DSN is one).
    """
    resolve = resolve or resolve_host
    for field, host in hosts_of(kind, config):
        check_host(field, host, allowlist, local, resolve)


def hosts_of(kind: str, config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, host) of every host the destination would connect to."""
    if kind in URL_FIELD:
        name = URL_FIELD[kind]
        host = urlsplit(str(config.get(name, ""))).hostname
        if not host:
            raise invalid(name, "must name a host")
        return [(name, host)]
    if kind == "postgres":
        return _dsn_hosts(str(config.get("dsn", "")))
    return []  # file: no network at all


def _dsn_hosts(dsn: str) -> list[tuple[str, str]]:
    import psycopg.conninfo

    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise invalid("dsn", "is not a PostgreSQL connection string") from None
    found = []
    for key in ("host", "hostaddr"):
        for host in str(params.get(key) or "").split(","):
            if host.strip():
                found.append((f"dsn.{key}", host.strip()))
    # No host: libpq connects to this machine's socket; a socket path is this machine too.
    return [(f, "localhost" if h.startswith("/") else h) for f, h in found] or [("dsn.host", "localhost")]


def check_host(field: str, host: str, allowlist: Sequence[str], local: bool, resolve: Resolver) -> None:
    name = host.strip().strip("[]").rstrip(".").lower()
    literal = address_literal(name)
    resolved: list[Address] = [literal] if literal is not None else []

    def addresses() -> list[Address]:  # resolved once, and only when needed
        if not resolved:
            resolved.extend(resolve(name))
        return resolved

    if not _listed(name, literal, allowlist, addresses):
        raise invalid(field, f"host {host} is not in the destinations allowlist ({POLICY_KEY})")
    found = addresses()
    if not found:
        raise invalid(field, f"host {host} does not resolve to an address")
    if local:
        return
    for address in found:
        rule = non_global(address)
        if rule:
            shown = host if literal is not None and str(address) == name else f"{host} ({address})"
            raise invalid(field, f"host {shown}: {rule} addresses are refused (a destination must be a public host)")


def _listed(
    name: str, literal: Address | None, allowlist: Sequence[str], addresses: Callable[[], list[Address]]
) -> bool:
    for entry in allowlist:
        pattern = entry.strip().lower()
        if not pattern:
            continue
        if pattern == "*":  # any host; non-public addresses are still refused unless local
            return True
        if "/" in pattern:
            try:
                network = ipaddress.ip_network(pattern, strict=False)
            except ValueError:
                continue
            found = addresses()
            if found and all(_unmapped(a) in network for a in found):
                return True
        elif pattern.startswith("*."):
            if literal is None and name.endswith(pattern[1:]) and len(name) > len(pattern) - 1:
                return True
        elif literal is not None:
            pattern_literal = address_literal(pattern.strip("[]"))
            if pattern_literal is not None and _unmapped(pattern_literal) == _unmapped(literal):
                return True
        elif name == pattern.rstrip("."):
            return True
    return False


def address_literal(host: str) -> Address | None:
    """The address a host names literally, in any form a C resolver accepts; None for a name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _unmapped(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def non_global(address: Address) -> str:
    """The rule a non-public address breaks ("" for a public one)."""
    inner: list[Address] = []
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one reaches the IPv4 host: check that too.
        inner += [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
        if address.teredo is not None:
            inner += list(address.teredo)
        if address in ipaddress.ip_network("64:ff9b::/96"):
            inner.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    inner.append(address)
    for a in inner:
        for rule, test in (
            ("loopback", a.is_loopback),
            ("unspecified", a.is_unspecified),
            ("link-local", a.is_link_local),
            ("multicast", a.is_multicast),
            ("private", a.is_private),
            ("reserved", a.is_reserved),
            ("shared (carrier-grade NAT)", a in SHARED),
            ("non-global", not a.is_global),
        ):
            if test:
                return rule
    return ""


def resolve_host(name: str) -> list[Address]:
    """Every address the name resolves to (an empty list when it does not)."""
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found
