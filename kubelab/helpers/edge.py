"""Requests to an ingress controller from a client Pod, as an outside client would send them: to
the controller's address with the Host header (HTTP), or with the server name resolved to that
address and the certificate verified with a CA the Pod holds (HTTPS).

    ask = edge.Asker(lab, "client", front)            # front: the controller Service's address
    ask("shop.example", "/a")                         # ("200", "app-a"): status code and body
    ask("secure.example", https=True)                 # HTTPS on port 443, verified
    ask.until("shop.example to be routed", "shop.example")   # wait until a rule answers it
    ask.https_at("secure.example", address, 30443)    # the body of HTTPS to another address:port
    edge.by_route(("200", "app-a"))                   # a rule answered, not the catch-all
"""

from __future__ import annotations

CURL = "curl -s --max-time 3"


class Asker:
    """`ask(host, path="/", https=False)`: (status code, body) of a request through the
    controller at `front`, sent from the Pod `client` (which needs curl, and the CA at `ca`)."""

    def __init__(self, lab, client: str, front: str, ca: str = "/trust/ca.pem"):
        self.lab, self.client, self.front, self.ca = lab, client, front, ca

    def url(self, host: str, path: str = "/", https: bool = False) -> str:
        """curl's URL and options for `host` at the controller's address."""
        if https:
            return f"https://{host}{path} --cacert {self.ca} --resolve {host}:443:{self.front}"
        return f"http://{self.front}{path} -H 'Host: {host}'"

    def __call__(self, host: str, path: str = "/", https: bool = False) -> tuple[str, str]:
        command = f"{CURL} -w '\\n%{{http_code}}' {self.url(host, path, https)}"
        return answer(self.lab.exec(self.client, command, check=False))

    def until(
        self,
        description: str,
        host: str,
        path: str = "/",
        done=None,
        https: bool = False,
        timeout: float = 30,
    ) -> tuple[str, str]:
        """Ask again until done(answer) (by default: a rule answered, by_route); that answer."""
        return self.lab.wait_for(
            description, lambda: self(host, path, https), done=done or by_route, timeout=timeout
        )

    def https_at(self, host: str, address: str, port: int) -> str:
        """The body of https://host:port/ sent to `address`, the certificate verified."""
        command = (
            f"{CURL} --cacert {self.ca} --resolve {host}:{port}:{address} https://{host}:{port}/"
        )
        return self.lab.exec(self.client, command, check=False).strip()


def answer(output: str) -> tuple[str, str]:
    """curl's output with `-w '\\n%{http_code}'` as (status code, body); the body is "" when
    curl wrote only the code (000 for no answer)."""
    parts = output.strip().rsplit("\n", 1)
    return (parts[-1], parts[0] if len(parts) == 2 else "")


def by_route(answer: tuple[str, str], fallback: str = "fallback") -> bool:
    """A rule answered: status 200 from a backend other than the catch-all default one."""
    return answer[0] == "200" and answer[1] != fallback


def from_echo(answer: tuple[str, str]) -> bool:
    """Answered by agnhost netexec's start page ("NOW: <time>"): the path reached it unchanged."""
    return answer[0] == "200" and answer[1].startswith("NOW:")


def ok(answer: tuple[str, str]) -> bool:
    """Status 200, from whichever backend."""
    return answer[0] == "200"


def addresses(ingress: dict | None) -> list:
    """The addresses a controller published in an Ingress's status (empty while none serves it)."""
    return (((ingress or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []


def routed(answer: tuple[str, str], fallback: str = "fallback") -> tuple[str, str] | None:
    """The answer when a rule answered it (by_route), else None: for waits and expect_absent."""
    return answer if by_route(answer, fallback) else None
