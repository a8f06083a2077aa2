"""The refresh's HTTP client: every hop checked before anything connects.

Written on httpx by hand rather than with `follow_redirects=True` because every hop must be checked
before anything connects: the host is resolved, every address must be public unless the source allows
it, and the connection goes to the address just checked, so that a second DNS answer cannot point it
elsewhere (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass

import httpx

from briefing.errors import FetchError  # noqa: F401 (re-exported)
from briefing.refresh.sources import FetchPolicy

USER_AGENT = "BriefingRefresh/0.1 (offline AI-governance briefing assistant; corpus refresh)"
ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,*/*;q=0.5"
)
MAX_REDIRECTS = 5
REDIRECT_CODES = {301, 302, 303, 307, 308}
TRANSIENT_CODES = {408, 425, 429, 500, 502, 503, 504}


class _Transient(Exception):
    """A failure worth retrying (a 429 or 5xx answer)."""


@dataclass(frozen=True)
class Access:
    """Which non-public hosts a source may reach."""

    allow_private: bool = False
    allow_hosts: frozenset[str] = frozenset()

    def check(self, host: str, address: str) -> None:
        """Raise `FetchError` unless `address` (of `host`) is public or explicitly allowed."""
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        public = ip.is_global and not ip.is_multicast
        if not (
            public or self.allow_private or host.lower() in self.allow_hosts or str(ip) in self.allow_hosts
        ):
            raise FetchError(f"refused {host}: {ip} is a private, loopback, link-local or reserved address")


def resolve(url: httpx.URL, access: Access) -> list[str]:
    """Every address of the URL's host, each checked before any connection is made."""
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        access.check(host, address)
    return addresses


@dataclass
class Fetched:
    """One HTTP answer: 200 with a body, 304 (not modified) or a redirect."""

    url: str
    status: int
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    location: str | None = None


class Fetcher:
    """GET with size cap, timeouts, retries, conditional requests and checked, manual redirects."""

    def __init__(self, policy: FetchPolicy):
        self.policy = policy
        # trust_env=False: an environment proxy would make the address checks meaningless.
        self.client = httpx.Client(
            trust_env=False, timeout=policy.timeout, headers={"User-Agent": USER_AGENT, "Accept": ACCEPT}
        )

    def close(self) -> None:
        self.client.close()

    def get(self, url: str, access: Access, validators: dict | None = None) -> Fetched:
        """Fetch `url`, following at most 5 redirects, each checked like the first request."""
        headers = {}
        if validators and validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators and validators.get("last_modified"):
            headers["If-Modified-Since"] = validators["last_modified"]
        current = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            fetched = self._retrying(current, access, headers)
            if fetched.status not in REDIRECT_CODES:
                return fetched
            current = current.join(fetched.location or "")
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    def _retrying(self, url: httpx.URL, access: Access, headers: dict) -> Fetched:
        reason = ""
        for attempt in range(self.policy.retries + 1):
            if attempt:
                time.sleep(self.policy.backoff * 2 ** (attempt - 1))
            try:
                return self._once(url, access, headers)
            except httpx.TimeoutException:
                reason = f"timed out after {self.policy.timeout:g}s"
            except (httpx.TransportError, _Transient) as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
        raise FetchError(f"{reason} (after {self.policy.retries + 1} attempts)")

    def _once(self, url: httpx.URL, access: Access, headers: dict) -> Fetched:
        if url.scheme not in ("http", "https"):
            raise FetchError(f"refused {url}: only http(s) URLs are allowed")
        addresses = resolve(url, access)
        for n, address in enumerate(addresses, start=1):
            request = self.client.build_request(
                "GET",
                url.copy_with(host=address),
                headers=headers | {"Host": url.netloc.decode("ascii")},
                extensions={"sni_hostname": url.raw_host.decode("ascii")},
            )
            try:
                response = self.client.send(request, stream=True)
            except httpx.ConnectError:
                if n == len(addresses):
                    raise
                continue
            try:
                return self._read(url, response)
            finally:
                response.close()
        raise FetchError(f"no address for {url.host}")

    def _read(self, url: httpx.URL, response: httpx.Response) -> Fetched:
        status = response.status_code
        if status in REDIRECT_CODES:
            if not response.headers.get("location"):
                raise FetchError(f"HTTP {status} without a Location header")
            return Fetched(str(url), status, location=response.headers["location"])
        if status == 304:
            return Fetched(str(url), 304)
        if status in TRANSIENT_CODES:
            raise _Transient(f"HTTP {status} {response.reason_phrase}")
        if status != 200:
            raise FetchError(f"HTTP {status} {response.reason_phrase}".strip())
        return Fetched(
            str(url),
            200,
            self._body(response),
            response.headers.get("content-type", ""),
            response.headers.get("etag"),
            response.headers.get("last-modified"),
        )

    def _body(self, response: httpx.Response) -> bytes:
        cap = self.policy.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(f"larger than {cap} bytes (Content-Length {declared})")
        # The read timeout restarts with every chunk: a server trickling bytes is stopped by a deadline.
        deadline = time.monotonic() + 3 * self.policy.timeout
        parts, size = [], 0
        for part in response.iter_bytes():  # decoded bytes, so a compressed bomb is capped too
            size += len(part)
            if size > cap:
                raise FetchError(f"larger than {cap} bytes")
            if time.monotonic() > deadline:
                raise FetchError(f"download took longer than {3 * self.policy.timeout:g}s")
            parts.append(part)
        return b"".join(parts)
