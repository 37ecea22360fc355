"""What a window looks for: the units it serves, by what it has on the papers (part
of the unit's name, the start of its credit code), and a person who comes in
alone, by ID, at the unit of their newest registration; within its divisions
only, and nothing told of anyone beyond them."""

from __future__ import annotations

from typing import Any

from adapters.standin.seed import WORKERS
from gateway.services import Gateway
from tests.factories import resident_id
from tests.gateway.conftest import GraphQLClient, error_codes

EMPLOYERS = """query($s: String, $f: Int! = 20, $a: String) {
  employers(search: $s, first: $f, after: $a) {
    nodes { creditCode name division } endCursor hasNextPage totalCount } }"""
#: The seed's units: two in Jinan's Lixia district, one in Qingdao.
MACHINES = "91370102MA3C4TLQ2N"  # 济南泉城机械制造有限公司, 370102
HOUSEKEEPING = "91370102MA3D8R5H1H"  # 济南历下家政服务有限公司, 370102
QINGDAO = "91370202MA3BQ6YK01"  # 青岛海岸软件科技有限公司, 370202


async def listed(caller: GraphQLClient, **variables: Any) -> dict[str, Any]:
    body = await caller.post(EMPLOYERS, variables)
    assert "errors" not in body, body
    page: dict[str, Any] = body["data"]["employers"]
    return page


def codes(page: dict[str, Any]) -> list[str]:
    return [e["creditCode"] for e in page["nodes"]]


async def test_each_role_lists_the_units_it_reaches(client: GraphQLClient) -> None:
    clerk = await client.login("demo-clerk")  # a window for Jinan (370100)
    jinan = await listed(clerk)
    assert codes(jinan) == sorted([MACHINES, HOUSEKEEPING])
    assert jinan["totalCount"] == 2
    assert not jinan["hasNextPage"]
    assert {e["division"] for e in jinan["nodes"]} == {"370102"}

    admin = await client.login("demo-admin")
    assert codes(await listed(admin)) == sorted([MACHINES, HOUSEKEEPING, QINGDAO])

    employer = await client.login("demo-employer")
    own = await listed(employer)
    assert codes(own) == [MACHINES]
    assert own["totalCount"] == 1
    assert codes(await listed(employer, s="家政")) == []  # another unit, even by name

    assert error_codes(await client.post(EMPLOYERS)) == ["UNAUTHENTICATED"]


async def test_a_window_finds_a_unit_by_part_of_its_name_or_the_start_of_its_code(
    client: GraphQLClient,
) -> None:
    clerk = await client.login("demo-clerk")
    assert codes(await listed(clerk, s=" 泉城机械 ")) == [MACHINES]
    assert codes(await listed(clerk, s="91370102ma3d")) == [HOUSEKEEPING]  # any case
    assert codes(await listed(clerk, s="MA3D8R5H1H")) == []  # the middle of a code
    assert codes(await listed(clerk, s="有限公司")) == sorted([MACHINES, HOUSEKEEPING])
    # Qingdao's unit is out of this window's reach, found by name or by code alike.
    assert codes(await listed(clerk, s="青岛")) == []
    assert codes(await listed(clerk, s=QINGDAO)) == []
    admin = await client.login("demo-admin")
    assert codes(await listed(admin, s="青岛")) == [QINGDAO]
    # An empty search is no search.
    assert len(codes(await listed(admin, s="  "))) == 3


async def test_pages_follow_one_another_by_cursor(client: GraphQLClient) -> None:
    admin = await client.login("demo-admin")
    seen: list[str] = []
    after = None
    while True:
        page = await listed(admin, f=1, a=after)
        assert len(page["nodes"]) == 1
        assert page["totalCount"] == 3
        seen += codes(page)
        if not page["hasNextPage"]:
            break
        after = page["endCursor"]
    assert seen == sorted([MACHINES, HOUSEKEEPING, QINGDAO])


async def test_bad_arguments_are_refused_naming_them(client: GraphQLClient) -> None:
    admin = await client.login("demo-admin")
    assert _field(await admin.post(EMPLOYERS, {"f": 0})) == ("BAD_INPUT", "first")
    too_many = await admin.post(EMPLOYERS, {"f": 101})  # refused before it runs
    assert error_codes(too_many) == ["PAGE_TOO_LARGE"]
    assert "data" not in too_many
    for search in ("泉城\n机械", "泉城\x07", "名" * 201):
        assert _field(await admin.post(EMPLOYERS, {"s": search})) == ("BAD_INPUT", "search")
    assert codes(await listed(admin, s="名" * 200)) == []  # as long as a name may be
    registrations = await admin.post("{ registrations(first: 1) { endCursor } }")
    for cursor in ("not a cursor", registrations["data"]["registrations"]["endCursor"] or "eA"):
        assert _field(await admin.post(EMPLOYERS, {"a": cursor})) == ("BAD_INPUT", "after")


def _field(body: dict[str, Any]) -> tuple[str, str]:
    """The code and the field of the one error of ``body``, which has no data."""
    assert body["data"] is None, body
    [error] = body["errors"]
    return error["extensions"]["code"], error["extensions"]["field"]


PERSON = """query($t: IdType! = RESIDENT_ID, $n: String!) { worker(idType: $t, idNumber: $n) {
  name idNumber mobile status employer { creditCode name } } }"""
#: Dismissed by the Jinan machine works: comes to a window to register as unemployed.
DISMISSED = next(w for w in WORKERS if w.employer == 0 and w.label == "dismissed")
#: Employed in Qingdao, out of the Jinan window's reach.
FOREIGN = next(w for w in WORKERS if w.employer == 1)


async def test_a_person_who_comes_in_is_found_at_the_unit_of_their_newest_registration(
    client: GraphQLClient, gateway: Gateway
) -> None:
    clerk = await client.login("demo-clerk")
    number = DISMISSED.person.id_number
    body = await clerk.post(PERSON, {"n": " " + number.lower() + " "})
    assert "errors" not in body, body
    found = body["data"]["worker"]
    assert found["name"] == DISMISSED.person.name
    assert found["idNumber"] == number  # a window sees the full number
    assert found["status"] == "DISMISSED"
    assert found["employer"]["creditCode"] == MACHINES

    # Beyond the window's divisions, and nobody at all: the same null.
    foreign = await clerk.post(PERSON, {"n": FOREIGN.person.id_number})
    nobody = await clerk.post(PERSON, {"n": resident_id()})
    impossible = await clerk.post(PERSON, {"n": "370102199001011234"})
    assert foreign == nobody == impossible == {"data": {"worker": None}}
    # The employer of their unit finds them the same way; Qingdao's does not.
    employer = await client.login("demo-employer")
    own = await employer.post(PERSON, {"n": number})
    assert own["data"]["worker"]["employer"]["creditCode"] == MACHINES
    assert (await employer.post(PERSON, {"n": FOREIGN.person.id_number})) == {
        "data": {"worker": None}
    }
    assert error_codes(await client.post(PERSON, {"n": number})) == ["UNAUTHENTICATED"]

    # Each lookup is a read of a person's data, found or not, with where it was found.
    records = await gateway.store.audit.query(first=10)
    reads = [(r.actor_username, r.credit_code, r.result) for r in records.items][::-1]
    assert reads == [
        ("demo-clerk", MACHINES, "allowed"),
        ("demo-clerk", None, "not_found"),
        ("demo-clerk", None, "not_found"),
        ("demo-clerk", None, "not_found"),
        ("demo-employer", MACHINES, "allowed"),
        ("demo-employer", None, "not_found"),
    ]
    assert {r.action for r in records.items} == {"read_worker"}
