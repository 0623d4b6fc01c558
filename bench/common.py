"""What the benchmarks share: result rows, stores to run on, and realistic catalog content."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from application.common import Command, Principal
from bootstrap import Runtime
from domain.catalog_values import (
    Check,
    DataItem,
    DeliveryMethod,
    EntryContent,
    OpenClass,
    Review,
    Sensitivity,
    ShareClass,
    UpdateCycle,
)
from domain.organizations import Level, OrgKind, Role
from infrastructure.config import Settings

ADMIN = Principal(person="office-admin", organization="office", roles=frozenset({"office_admin"}))
PASS = Review(Check(True, "准确"), Check(True, "完整"), Check(True, "合规"))


@dataclass
class Row:
    """One figure against its baseline; `ratio` is figure / baseline unless said otherwise."""

    metric: str
    figure: float
    unit: str
    baseline_name: str
    baseline: float
    baseline_unit: str
    ratio: float
    aim: str = ""
    met: bool | None = None


@dataclass
class Outcome:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Options:
    quick: bool
    postgres_url: str | None


class ClockForBench:
    """A clock that never repeats a timestamp, as the system clock may within one microsecond."""

    def __init__(self) -> None:
        self._now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self._now += timedelta(microseconds=1)
        return self._now


def reset_postgres(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@contextmanager
def scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="civic-ledger-bench-") as d:
        yield Path(d)


@contextmanager
def fresh_runtime(backend: str, opts: Options, workdir: Path) -> Iterator[Runtime]:
    """A Runtime on an empty store: the PostgreSQL schema is dropped, or a new SQLite file is made."""
    if backend == "postgres":
        assert opts.postgres_url is not None
        reset_postgres(opts.postgres_url)
        url = opts.postgres_url
    else:
        path = workdir / f"ledger-{time.monotonic_ns()}.sqlite3"
        url = f"sqlite:///{path}"
    rt = Runtime(Settings(database_url=url), clock=ClockForBench())
    try:
        yield rt
    finally:
        rt.close()


def command(name: str, key: str | None = None) -> Command:
    return Command(name=name, idempotency_key=key, fingerprint=key or "")


def division(rt: Runtime, code: str = "div-relief") -> tuple[Principal, Principal]:
    """Registers the Office and a division with a compiler and a reviewer; returns (compiler, reviewer)."""
    rt.init(admin=ADMIN.person)
    rt.organizations.register(ADMIN, command("org.register"), code=code, name="社会救助处",
                              kind=OrgKind.DIVISION, level=Level.PROVINCE, parent="office")
    people: list[Principal] = []
    for person, role in ((f"{code}-compiler", Role.CATALOG_COMPILER), (f"{code}-reviewer", Role.CATALOG_REVIEWER)):
        rt.organizations.assign_role(ADMIN, command("org.assign"), code=code, person=person, role=role)
        people.append(Principal(person=person, organization=code, roles=frozenset({str(role)})))
    return people[0], people[1]


_ITEM_NAMES = ("身份证号码", "姓名", "性别", "出生日期", "户籍地址", "救助类别", "保障金额", "家庭人口",
               "审批日期", "经办机构", "联系电话", "银行账号")


def data_items(prefix: str, n: int = 10) -> tuple[DataItem, ...]:
    return tuple(
        DataItem(code=f"{prefix}_{i:02d}", name=_ITEM_NAMES[i % len(_ITEM_NAMES)], type="string",
                 description=f"{_ITEM_NAMES[i % len(_ITEM_NAMES)]}（按 GB/T 21063 核心元数据填写）",
                 sensitivity=Sensitivity.SENSITIVE if i % 3 == 0 else Sensitivity.INTERNAL)
        for i in range(n)
    )


def entry_content(serial: int, revision: int = 0, n_items: int = 10) -> EntryContent:
    """Catalog content of realistic size: ten data items, Chinese names and descriptions."""
    return EntryContent(
        name=f"城乡最低生活保障对象信息（第{serial}号，修订{revision}）",
        summary="全省城乡最低生活保障对象的基本信息、保障金额与审批记录，按月更新。",
        category="社会救助", format="结构化数据",
        data_items=data_items(f"R{serial}", n_items),
        share_class=ShareClass.RESTRICTED, open_class=OpenClass.CLOSED,
        delivery_methods=(DeliveryMethod.INTERFACE, DeliveryMethod.FRONT_END_PROCESSOR),
        update_cycle=UpdateCycle.MONTHLY, source_system="陕西省低保信息管理系统",
        share_conditions="仅限民政业务协同使用，须经数据提供单位审核同意。",
        legal_basis="《陕西省民政数据资源管理暂行办法》第十二条",
    )


def best_rate(count: int, run: Callable[[], None], repeats: int = 1) -> tuple[float, float]:
    """Runs `run` `repeats` times; returns (best operations per second, seconds of the best run)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return count / best, best


def env_url() -> str | None:
    return os.environ.get("CIVIC_LEDGER_BENCH_POSTGRES_URL") or os.environ.get("CIVIC_LEDGER_TEST_POSTGRES_URL")
