"""Crypto-shredding: erasing one person makes their sealed fields read as erased wherever they
were stored, leaves everyone else's readable, and the stored events themselves unchanged."""

from __future__ import annotations

from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from caseplatform.personal import ERASED, PersonalData, SubjectErased
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication, Sql


class Contact(Aggregate):
    @event("Recorded")
    def __init__(self, subject_id: str, safe_phone: str, grade: str) -> None:
        self.subject_id, self.safe_phone, self.grade = subject_id, safe_phone, grade

    @event("Changed")
    def change(self, safe_phone: str) -> None:
        self.safe_phone = safe_phone


def record(app: ServiceApplication, personal: PersonalData, subject: str, phone: str) -> UUID:
    contact = Contact(subject_id=subject, safe_phone=personal.seal(subject, phone), grade="HIGH")
    app.save(contact)
    return contact.id


def test_erasing_one_subject_shreds_only_their_fields(settings: PlatformSettings) -> None:
    app = ServiceApplication("source", settings)
    personal = PersonalData(app)
    mine = record(app, personal, "subject-a", "07700 900001")
    theirs = record(app, personal, "subject-b", "07700 900002")
    assert personal.open(app.repository.get(mine).safe_phone) == "07700 900001"

    assert personal.erase("subject-a") is True
    events_before = Sql(app).event_counts()

    fresh = PersonalData(ServiceApplication("source", settings))  # another replica, no cache
    erased = app.repository.get(mine)
    assert fresh.open(erased.safe_phone) == ERASED
    assert erased.grade == "HIGH"  # the non-personal history remains
    assert fresh.open(app.repository.get(theirs).safe_phone) == "07700 900002"
    assert Sql(app).event_counts() == events_before  # nothing rewritten


def test_an_erased_subject_cannot_be_given_new_personal_data(settings: PlatformSettings) -> None:
    personal = PersonalData(ServiceApplication("source", settings))
    personal.erase("subject-c")  # erased before anything was recorded
    with pytest.raises(SubjectErased):
        personal.seal("subject-c", "07700 900003")


def test_sealed_values_do_not_reveal_the_value_and_differ_each_time(settings: PlatformSettings) -> None:
    personal = PersonalData(ServiceApplication("source", settings))
    first, second = personal.seal("s", "NP4 6YB"), personal.seal("s", "NP4 6YB")
    assert "NP4" not in first and first != second
    assert personal.open(first) == personal.open(second) == "NP4 6YB"


def test_a_value_sealed_for_one_subject_cannot_be_passed_off_as_another(settings: PlatformSettings) -> None:
    personal = PersonalData(ServiceApplication("source", settings))
    personal.seal("victim", "x")
    sealed = personal.seal("other", "07700 900004")
    forged = sealed.replace("pd1.other.", "pd1.victim.")  # the key is bound to the subject id
    assert personal.open(forged) == ERASED


def test_replicas_starting_together_create_the_key_table_once(settings: PlatformSettings) -> None:
    # Several replicas of a service start at the same moment on one PostgreSQL schema: creating
    # the table must not fail for the ones that lose the race.
    from concurrent.futures import ThreadPoolExecutor

    apps = [ServiceApplication("source", settings) for _ in range(6)]
    with ThreadPoolExecutor(len(apps)) as pool:
        vaults = list(pool.map(PersonalData, apps))
    assert vaults[0].open(vaults[-1].seal("s-1", "07700 900123")) == "07700 900123"


def test_a_new_subjects_key_is_written_with_the_first_events_sealed_with_it(settings: PlatformSettings) -> None:
    app = ServiceApplication("source", settings)
    personal = PersonalData(app)
    commits: list[object] = []
    app.on_recorded(commits.append)
    with personal.new_subject("subject-new") as key_row:
        contact = Contact(subject_id="subject-new", safe_phone=personal.seal("subject-new", "07700 900003"), grade="HIGH")
        app.save(contact, rows=key_row)
    assert len(commits) == 1
    replica = PersonalData(ServiceApplication("source", settings))  # reads the key from the store
    assert replica.open(app.repository.get(contact.id).safe_phone) == "07700 900003"
    assert replica.erase("subject-new") is True
    assert replica.open(app.repository.get(contact.id).safe_phone) == ERASED


def test_a_failed_save_stores_neither_the_new_key_nor_what_it_sealed(settings: PlatformSettings) -> None:
    app = ServiceApplication("source", settings)
    personal = PersonalData(app)
    first = Contact(subject_id="x", safe_phone="", grade="HIGH")
    app.save(first)
    mine, theirs = app.repository.get(first.id), app.repository.get(first.id)
    theirs.change(safe_phone="")
    app.save(theirs)  # written first: `mine` now conflicts on the aggregate's version
    with pytest.raises(IntegrityError), personal.new_subject("subject-lost") as key_row:
        mine.change(safe_phone=personal.seal("subject-lost", "07700 900004"))
        app.save(mine, rows=key_row)
    sql = Sql(app)
    rows = sql.query(f"SELECT COUNT(*) FROM {sql.table('subject_keys')} WHERE subject_id = ?", ["subject-lost"])
    assert rows[0][0] == 0
