"""The stand-in's SOAP service, built with spyne: types, the seven operations, the WSDL.

spyne (not zeep) on purpose: the gateway's zeep client is then tested against
an independent SOAP stack. spyne parses and answers the envelopes; the rules
live in ``filings.FilingRegistry``. Authentication and the simulated faults
happen before spyne is called (``standin.py``).

spyne runs without schema validation, so that a bad or missing value reaches
the registry and is refused as the contract says (``Client.Validation`` naming
the field) rather than with spyne's own fault; values spyne cannot even parse
(a malformed date) are refused the same way by ``_Soap11``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from spyne import (
    Application,
    ComplexModel,
    Date,
    DateTime,
    Fault,
    ServiceBase,
    Unicode,
    rpc,
)
from spyne import const as spyne_const
from spyne.error import ValidationError
from spyne.interface.wsdl import Wsdl11
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from adapters.labor import filings, soap
from adapters.labor.filings import FilingFault, FilingRegistry

#: Key of the WSGI environ where an operation says its write has committed.
COMMITTED = "hrss.labor.committed"

_Req = Unicode(min_occurs=1, nillable=False)
_Opt = Unicode(min_occurs=0)


def _limited(path: str, *, required: bool) -> Any:
    """A text element carrying the contract's limit as ``xs:maxLength`` (not enforced
    by spyne, which does not validate: the registry refuses, as the contract says)."""
    most = filings.LIMITS[path]
    if required:
        return Unicode(max_len=most, min_occurs=1, nillable=False)
    return Unicode(max_len=most, min_occurs=0)


_ReqDate = Date(min_occurs=1, nillable=False)
_OptDate = Date(min_occurs=0)


class Worker(ComplexModel):
    __namespace__ = soap.TNS
    _type_info = [  # noqa: RUF012 - spyne reads the pairs, in order, at class creation
        ("idType", _Req),
        ("idNumber", _limited("Worker/idNumber", required=True)),
        ("name", _limited("Worker/name", required=True)),
        ("gender", _Req),
        ("nation", _Req),
        ("education", _Req),
        ("mobile", _limited("Worker/mobile", required=False)),
        ("hukouAddress", _limited("Worker/hukouAddress", required=False)),
        ("address", _limited("Worker/address", required=False)),
    ]


class Contract(ComplexModel):
    __namespace__ = soap.TNS
    _type_info = [  # noqa: RUF012 - spyne reads the pairs, in order, at class creation
        ("contractType", _Req),
        ("startDate", _ReqDate),
        ("endDate", _OptDate),
        ("filingCategory", _Req),
        ("employmentForm", _Req),
        ("post", _limited("Contract/post", required=True)),
        ("region", _Req),
    ]


class ContractRecord(ComplexModel):
    __namespace__ = soap.TNS
    _type_info = [  # noqa: RUF012 - spyne reads the pairs, in order, at class creation
        ("filingNo", _Req),
        ("employerCode", _Req),
        ("Worker", Worker.customize(min_occurs=1, nillable=False)),
        ("Contract", Contract.customize(min_occurs=1, nillable=False)),
        ("status", _Req),
        ("endKind", _Opt),
        ("endReason", _Opt),
        ("endDate", _OptDate),
        ("filedAt", DateTime(min_occurs=1, nillable=False)),
    ]


def _fault(exc: FilingFault) -> Fault:
    return Fault(faultcode=exc.kind, faultstring=exc.message, detail=exc.detail())


def _values(obj: Any, cls: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {name: getattr(obj, name, None) for name in cls._type_info}


def _record(values: Mapping[str, Any]) -> ContractRecord:
    return ContractRecord(
        **{
            **values,
            "Worker": Worker(**values["Worker"]),
            "Contract": Contract(**values["Contract"]),
        }
    )


def _committed(ctx: Any) -> None:
    ctx.transport.req_env[COMMITTED] = True


def build_service(registry: FilingRegistry) -> type[ServiceBase]:
    """The service class, bound to one registry (one per stand-in app)."""

    def call(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except FilingFault as exc:
            raise _fault(exc) from None

    class FilingService(ServiceBase):
        @rpc(
            _Req,
            _limited("name", required=True),
            _Req,
            _Opt,
            _Opt,
            _returns=Unicode,
            _out_variable_name="employerCode",
        )
        def RegisterEmployer(
            ctx: Any, creditCode: Any, name: Any, region: Any, contact: Any, phone: Any
        ) -> Any:
            values = {
                "creditCode": creditCode,
                "name": name,
                "region": region,
                "contact": contact,
                "phone": phone,
            }
            code = call(registry.register_employer, values)
            _committed(ctx)
            return code

        @rpc(
            _Req,
            _returns=(Unicode, Unicode, Unicode, Unicode, Unicode, Unicode),
            _out_variable_names=(
                "employerCode",
                "creditCode",
                "name",
                "region",
                "contact",
                "phone",
            ),
        )
        def GetEmployer(ctx: Any, creditCode: Any) -> Any:
            e = call(registry.get_employer, creditCode)
            return (
                e["employerCode"],
                e["creditCode"],
                e["name"],
                e["region"],
                e["contact"],
                e["phone"],
            )

        @rpc(
            _Req,
            Worker.customize(min_occurs=1, nillable=False),
            Contract.customize(min_occurs=1, nillable=False),
            _in_arg_names={"worker": "Worker", "contract": "Contract"},
            _returns=Unicode,
            _out_variable_name="filingNo",
        )
        def FileContract(ctx: Any, employerCode: Any, worker: Any, contract: Any) -> Any:
            filing_no = call(
                registry.file_contract,
                employerCode,
                _values(worker, Worker),
                _values(contract, Contract),
            )
            _committed(ctx)
            return filing_no

        @rpc(
            _Req,
            _limited("idNumber", required=True),
            Contract.customize(min_occurs=1, nillable=False),
            _in_arg_names={"contract": "Contract"},
            _returns=Unicode,
            _out_variable_name="filingNo",
        )
        def RenewContract(ctx: Any, employerCode: Any, idNumber: Any, contract: Any) -> Any:
            filing_no = call(
                registry.renew_contract,
                employerCode,
                idNumber,
                _values(contract, Contract),
            )
            _committed(ctx)
            return filing_no

        @rpc(
            _Req,
            _limited("idNumber", required=True),
            _Req,
            _Req,
            _ReqDate,
            _returns=Unicode,
            _out_variable_name="filingNo",
        )
        def TerminateContract(
            ctx: Any, employerCode: Any, idNumber: Any, endKind: Any, reasonCode: Any, endDate: Any
        ) -> Any:
            filing_no = call(
                registry.terminate_contract, employerCode, idNumber, endKind, reasonCode, endDate
            )
            _committed(ctx)
            return filing_no

        @rpc(_Req, _returns=None)
        def RevokeFiling(ctx: Any, filingNo: Any) -> Any:
            call(registry.revoke_filing, filingNo)
            _committed(ctx)

        @rpc(
            Unicode(min_occurs=1, max_occurs="unbounded", nillable=False),
            _Opt,
            _returns=ContractRecord.customize(max_occurs="unbounded"),
            _out_variable_name="ContractRecord",
        )
        def QueryContracts(ctx: Any, idNumbers: Any, employerCode: Any) -> Any:
            records = call(registry.query_contracts, idNumbers, employerCode)
            return [_record(r) for r in records]

    return FilingService


def _field_path(element: Any) -> str:
    name = _localname(element.tag)
    parent = element.getparent()
    if parent is not None and _localname(parent.tag) in ("Worker", "Contract"):
        return f"{_localname(parent.tag)}/{name}"
    return name


def _localname(tag: Any) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1]


class _Soap11(Soap11):
    """Soap11 whose parse failures are the contract's ``Client.Validation`` faults."""

    def from_element(self, ctx: Any, cls: Any, element: Any) -> Any:
        try:
            return super().from_element(ctx, cls, element)
        except Fault as exc:
            if exc.faultcode != "Client.ValidationError":
                raise
            raise _fault(filings.invalid(_field_path(element))) from None
        except (ValidationError, ValueError, TypeError):
            raise _fault(filings.invalid(_field_path(element))) from None


def build_wsgi(registry: FilingRegistry) -> WsgiApplication:
    # spyne runs a full garbage collection after a request whenever a second has
    # passed since the last one, to close the files of uploads in time. The
    # service takes none, and those collections were 40 % of the CPU the labour
    # stand-ins spent over the test suite (sampled). Python's own collector runs.
    spyne_const.MIN_GC_INTERVAL = math.inf
    application = Application(
        [build_service(registry)],
        tns=soap.TNS,
        name=soap.SERVICE_NAME,
        in_protocol=_Soap11(),
        out_protocol=Soap11(),
    )
    return WsgiApplication(application)


def wsdl_document(wsgi: WsgiApplication, address: str) -> bytes:
    """The WSDL with ``address`` as the service location."""
    doc = Wsdl11(wsgi.app.interface)
    doc.build_interface_document(address)
    result: bytes = doc.get_interface_document()
    return result
