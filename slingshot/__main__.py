"""The library's commands: a recipe planned, checked, trained, exported; the locks; the embedded model.
Each is a module of slingshot/commands/ (make plan, doctor, train, smoke, export, model and lock run them)."""
from slingshot.dispatch import dispatch

COMMANDS = {
    "plan": "slingshot.commands.plan",
    "doctor": "slingshot.commands.doctor",
    "train": "slingshot.commands.train",
    "smoke": "slingshot.commands.smoke",
    "export": "slingshot.commands.export",
    "model": "slingshot.commands.model",
    "stand-in": "slingshot.commands.stand_in",
    "lock": "slingshot.commands.lock",
    "which-lock": "slingshot.commands.which_lock",
    "layers": "slingshot.commands.layers",
    "cpu-rank": "slingshot.commands.cpu_rank",
    "julia-score": "slingshot.commands.julia_score",
    "julia-exec": "slingshot.commands.julia_exec",
}


def main(argv=None):
    return dispatch("python -m slingshot", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
