"""What the README says is true: the rung table is the catalog's, every command is documented."""

from grader.catalog import REPO_ROOT, markdown_table
from grader.cli import cli

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_the_rung_table_is_generated_from_the_catalog():
    start = README.index("<!-- rungs")
    block = README[README.index("\n", start) + 1:README.index("<!-- /rungs -->")]
    assert block.strip() == markdown_table(), "regenerate it with grader.catalog.markdown_table()"


def test_every_command_and_option_is_in_the_readme():
    for name, command in cli.commands.items():
        assert f"kata {name}" in README, name
        for param in command.params:
            for option in param.opts:
                if option.startswith("--") and option != "--help":
                    assert option in README, f"kata {name} {option}"


def test_the_two_start_commands_are_the_first_code_block():
    first_block = README.split("```console", 1)[1].split("```", 1)[0]
    assert "./kata check 01-tensors" in first_block and "make test" in first_block
