"""distlab.engines.progress waits for every future and rejects what is not a future."""
import pytest

import distlab
from distlab.engines.progress import progress


def test_progress_returns_when_all_futures_are_done():
    with distlab.connect(n_workers=1) as client:
        futures = client.map(pow, range(6), [2] * 6)
        assert progress(futures) is None
        assert all(f.status == "finished" for f in futures)
        failing = [client.submit(divmod, 1, 0)]
        progress(failing)                      # a failed task ends the bar too
        assert failing[0].status == "error"


@pytest.mark.parametrize("bad", [[], [1, 2], None])
def test_progress_wants_futures(bad):
    with pytest.raises(TypeError, match="futures must be a non-empty list of distributed.Future"):
        progress(bad or [])
