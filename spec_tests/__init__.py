"""moss_ref_conformance — the Moss conformance kit (installed from the ``spec_tests/`` folder).

Language-neutral vectors (``vectors/<feature>/*.json``, schema ``schema/vectors.schema.json``),
a runner, a JSON-lines driver protocol for SDKs in any language, and differential fuzzing
against the reference. The rules are KIT/CMP/DRV in CONFORMANCE.md. Typical use::

    moss-conformance run                                   # the reference, in-process
    moss-conformance run --driver "my-sdk-driver"          # any SDK through the driver protocol
    moss-conformance run --target mypkg.targets:factory    # a Python SDK in-process
    moss-conformance check                                 # lint the vectors
    moss-conformance explain filters.x1.ne_city            # a case and the lines it sends

Everything but :mod:`.fuzz` (which needs ``hypothesis``) uses only the standard library.
"""

__version__ = "0.1.0"
