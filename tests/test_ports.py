"""Ports of the throwaway services: held from construction until the service binds, outside the
kernel's ephemeral range, distinct within a target; and a taken port fails at once, never hangs."""
from __future__ import annotations

import socket
import warnings
from pathlib import Path

import port_for
import pytest

from fixtures.moto_server import MotoStandin
from fixtures.ports import PortReservation
from fixtures import services
from fixtures.services import Service, ServiceUnavailable
from fixtures.targets import ThrowawayTarget


def _ephemeral_range() -> range:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return range(int(low), int(high) + 1)


def _can_bind(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_a_reservation_holds_its_ports_until_released():
    reservation = PortReservation(count=2)
    try:
        port = reservation.port
        assert port not in _ephemeral_range() and port + 1 not in _ephemeral_range()
        # Held against other pickers: a plain bind, and port-for's own check.
        assert not _can_bind(port) and not _can_bind(port + 1)
        assert port_for.port_is_used(port)
        reservation.release()
        reservation.release()  # idempotent
        assert _can_bind(port) and _can_bind(port + 1)
    finally:
        reservation.release()


def test_a_reservation_gives_up_with_a_reason_when_every_candidate_is_taken(monkeypatch):
    # The candidates are narrowed to ports really taken here (the kernel's free ports cannot be
    # used up by a test): a lone port, then a pair whose second port is taken.
    taken = PortReservation()
    try:
        monkeypatch.setattr(port_for, "available_good_ports", lambda: {taken.port})
        with pytest.raises(ServiceUnavailable, match=r"^no free port on 127\.0\.0\.1 outside the kernel's "
                                                     r"ephemeral range .*: free some local ports or rerun$"):
            PortReservation()

        free = taken.port - 1
        assert _can_bind(free)
        monkeypatch.setattr(port_for, "available_good_ports", lambda: {free, taken.port})
        with pytest.raises(ServiceUnavailable, match=r"^no 2 adjacent free ports on 127\.0\.0\.1 outside"):
            PortReservation(count=2)
        assert _can_bind(free), "a half-made pair reservation kept its first port"
    finally:
        taken.release()


@pytest.mark.parametrize("kind", ["local", "container"])
def test_a_targets_services_have_distinct_held_ports_and_waste_none(tmp_path, kind):
    # Constructing a target starts nothing (the container target needs no engine for this).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)  # a reservation dropped without release
        runtime = None
        if kind == "container":
            from fixtures.containers import ContainerRuntime, ContainerSettings

            runtime = ContainerRuntime(ContainerSettings())
        target = ThrowawayTarget(tmp_path, runtime=runtime)
        try:
            ports = {name: service.port for name, service in target.services.items()}
            assert set(ports) == {"postgres", "vault", "aws", "service", "adapters", "web3"}, ports
            assert len(set(ports.values())) == len(ports), ports
            assert not any(p in _ephemeral_range() for p in ports.values()), ports
            assert not any(_can_bind(p) for p in ports.values()), "a service's port is not held before it starts"
        finally:
            target.close()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, leaks


def holder() -> Service:
    """A service that holds a port from construction on, as the real ones do."""
    reservation = PortReservation()

    class Release:
        def start(self) -> None:
            pass

        def stop(self) -> None:
            reservation.release()

    return Service(reservation.port, {}, Release())


def test_a_target_that_fails_half_way_releases_the_ports_already_held(tmp_path, monkeypatch):
    # A later service cannot be built: the earlier ones' ports are given back.
    built: list[Service] = []
    real_build = services.postgres.build

    def postgres_build(*args, **kwargs):
        built.append(real_build(*args, **kwargs))
        return built[-1]

    def unbuildable(*args, **kwargs):
        raise OSError("no room for this service")

    monkeypatch.setattr(services.postgres, "build", postgres_build)
    monkeypatch.setattr(services.vault, "build", unbuildable)
    with pytest.raises(OSError, match="no room for this service"):
        ThrowawayTarget(tmp_path)
    (first,) = built
    assert _can_bind(first.port), "a service built before the failing one kept its port"

    # Every service was built, but the env file cannot be written.
    given = holder()
    try:
        with pytest.raises(FileNotFoundError):
            ThrowawayTarget(tmp_path / "no-such-directory", services={"holder": given})
        assert _can_bind(given.port), "the target that failed to write its env file kept its services' ports"
    finally:
        given.stop()


@pytest.mark.timeout(60)
def test_moto_on_a_taken_port_fails_at_once_instead_of_hanging():
    # moto's ThreadedMotoServer waited forever here (CI hung on it until killed).
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        with pytest.raises(OSError, match="Address already in use"):
            MotoStandin(port=holder.getsockname()[1]).start()
