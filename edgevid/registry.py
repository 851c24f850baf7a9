"""What the plugins registered: task and backend classes by id.

Built from the plugin manager on first use. A duplicate id is a :class:`PluginError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import BackendUnavailableError, ConfigError, PluginError, UnknownTaskError


@dataclass
class Registry:
    """Task and backend classes registered by plugins, keyed by their ``name``."""

    tasks: dict[str, type] = field(default_factory=dict)
    backends: dict[str, type] = field(default_factory=dict)

    def _add(self, table: dict[str, type], kind: str, cls: type) -> None:
        name = getattr(cls, "name", None)
        if not name:
            raise PluginError(f"{kind} {cls!r} has no 'name' attribute")
        if name in table and table[name] is not cls:
            raise PluginError(f"{kind} id {name!r} is registered twice ({table[name]!r} and {cls!r})")
        table[name] = cls

    def task(self, name: str) -> type:
        """The task class called ``name``, or :class:`UnknownTaskError` listing the known ones."""
        try:
            return self.tasks[name]
        except KeyError:
            known = ", ".join(sorted(self.tasks)) or "none installed"
            raise UnknownTaskError(f"unknown task {name!r} (installed tasks: {known})") from None

    def backend(self, name: str) -> type:
        """The backend class called ``name``; unknown names are a :class:`ConfigError`."""
        try:
            return self.backends[name]
        except KeyError:
            known = ", ".join(sorted(self.backends))
            raise ConfigError(f"unknown backend {name!r} (known: {known})") from None

    def available_backends(self) -> dict[str, type]:
        """Backends whose runtime is importable here (nothing is imported to tell)."""
        return {n: b for n, b in self.backends.items() if b.available()}

    def require_backend(self, name: str) -> type:
        """Like :meth:`backend`, but raise :class:`BackendUnavailableError` when not installed."""
        cls = self.backend(name)
        if not cls.available():
            raise BackendUnavailableError(f"backend {name!r} is not installed: pip install 'edgevid[{cls.extra}]'")
        return cls


def build(pm) -> Registry:
    """Collect every plugin's registrations into a new :class:`Registry`."""
    reg = Registry()
    pm.hook.register_backends(register=lambda cls: reg._add(reg.backends, "backend", cls))
    pm.hook.register_tasks(register=lambda cls: reg._add(reg.tasks, "task", cls))
    return reg


_registry: Registry | None = None


def get_registry() -> Registry:
    """The shared registry, built (and plugins loaded) on first call."""
    global _registry
    if _registry is None:
        from .plugins import get_manager

        _registry = build(get_manager())
    return _registry


def reset() -> None:
    """Drop the shared registry so the next call rebuilds it."""
    global _registry
    _registry = None
