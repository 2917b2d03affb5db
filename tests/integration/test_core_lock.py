import pytest

from exchange.infra.db.engine import make_engine
from exchange.infra.runtime import CoreAlreadyRunning, CoreLock


def test_a_second_core_on_the_same_postgresql_database_refuses_to_start(postgres_url):
    db = make_engine(postgres_url)
    try:
        first = CoreLock(db)
        with pytest.raises(CoreAlreadyRunning):
            CoreLock(db)
        first.release()
        CoreLock(db).release()  # free again once the first core is gone
    finally:
        db.dispose()
