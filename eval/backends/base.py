"""What every backend is: the Backend class and its defaults, one Generation per answer, and the register
decorator each backend module applies to its class (eval/backends/__init__.py loads them by MODULES)."""
from dataclasses import dataclass

from eval.cost import priced_run

BACKENDS = {}  # spec prefix -> backend class, filled by @register


@dataclass
class Generation:
    """One model answer, with what it cost to produce (tokens None: the server did not say)."""
    text: str
    tokens_in: int | None
    tokens_out: int | None
    latency_s: float


class Backend:
    """What every backend declares; the defaults fit a model that runs on hardware paid by the hour."""
    PREFIX = NAME = SPEC = None
    OPTIONS = {}         # `eval run` option (argparse dest) -> constructor keyword
    BUILT_BY_RUN = True  # `eval run --model PREFIX:...` builds it (False: made by its own command)
    SERVABLE = False
    RECORDED_SCORING = None  # the task's scoring mode its stored scores were computed in, if not this repo's

    @classmethod
    def cost(cls, meta, predictions, prices):
        return priced_run(meta, predictions)

    @classmethod
    def report_fields(cls, meta):
        """Extra fields of this backend's row in report.json (none by default)."""
        return {}

    @classmethod
    def report_lines(cls, report):
        """A section of report.md about this backend's rows (none by default)."""
        return []


def register(cls):
    BACKENDS[cls.PREFIX] = cls
    return cls
