"""The edgevid exception tree.

Every error a user can cause or meet derives from :class:`EdgevidError`, carries a
one-line message that says what to do, and maps to one CLI exit code
(``EXIT_CODES`` below is the single table the CLI uses)::

    EdgevidError                      1  anything else we raise on purpose
    ├── ConfigError                   2  bad option, unknown profile/variant/backend name
    │   └── UnknownTaskError          3  no installed plugin provides that task
    ├── ModelError
    │   ├── ModelNotFoundError        4  model file/member/variant does not exist
    │   ├── ChecksumError             5  sha256 differs from the card: file discarded
    │   ├── UnsafeModelError          6  pickle/.pt, or ONNX external data leaving its folder
    │   ├── UnsupportedModelError     7  no backend reads this format, or the file is malformed
    │   └── ModelFetchError           8  the pinned wheel could not be downloaded
    ├── BackendError
    │   ├── BackendUnavailableError   9  runtime not installed ("pip install 'edgevid[openvino]'")
    │   ├── DeviceUnavailableError   10  backend present, device (GPU/NPU/...) is not
    │   └── InferenceError           11  the runtime failed while running a loaded model
    ├── SourceError                  12  a video source failed
    │   ├── SourceUnreachableError   13  cannot open: missing path, refused stream, timeout
    │   └── SourceCorruptError       14  opened, but frames cannot be decoded
    ├── SinkError                    15  results could not be written
    └── PluginError                  16  a plugin failed to load or registered twice
"""

from __future__ import annotations


class EdgevidError(Exception):
    """Base of every error edgevid raises on purpose."""

    exit_code = 1


class ConfigError(EdgevidError):
    """An option, profile, backend or variant name is not valid."""

    exit_code = 2


class UnknownTaskError(ConfigError):
    """No installed plugin registers the requested task."""

    exit_code = 3


class ModelError(EdgevidError):
    """Something is wrong with a model artifact."""

    exit_code = 4


class ModelNotFoundError(ModelError):
    """The model file, wheel member or variant does not exist."""

    exit_code = 4


class ChecksumError(ModelError):
    """An artifact's sha256 differs from the one its card declares."""

    exit_code = 5


class UnsafeModelError(ModelError):
    """The artifact could execute code or read outside its folder; it is refused."""

    exit_code = 6


class UnsupportedModelError(ModelError):
    """No available backend can read the model, or the runtime rejected it."""

    exit_code = 7


class ModelFetchError(ModelError):
    """The pinned package carrying a model could not be downloaded."""

    exit_code = 8


class BackendError(EdgevidError):
    """A runtime backend failed."""

    exit_code = 9


class BackendUnavailableError(BackendError):
    """The backend's runtime package is not installed."""

    exit_code = 9


class DeviceUnavailableError(BackendError):
    """The backend is installed but the requested device is not present."""

    exit_code = 10


class InferenceError(BackendError):
    """The runtime raised while running a loaded model."""

    exit_code = 11


class SourceError(EdgevidError):
    """A video source failed."""

    exit_code = 12


class SourceUnreachableError(SourceError):
    """The source cannot be opened: missing file, refused or timed-out stream."""

    exit_code = 13


class SourceCorruptError(SourceError):
    """The source opened but its frames cannot be decoded."""

    exit_code = 14


class SinkError(EdgevidError):
    """Results could not be written to a sink."""

    exit_code = 15


class PluginError(EdgevidError):
    """A plugin failed to import, or registered an id that is already taken."""

    exit_code = 16


def _leaves(cls: type[EdgevidError]) -> list[type[EdgevidError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_leaves(sub))
    return out


#: error class name -> CLI exit code; the one table the CLI and README use.
EXIT_CODES: dict[str, int] = {c.__name__: c.exit_code for c in _leaves(EdgevidError)}
#: exit code when a run is interrupted by the user (SIGINT/SIGTERM are graceful: 0).
EXIT_OK = 0
