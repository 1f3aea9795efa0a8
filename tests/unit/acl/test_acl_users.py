"""The ACL lines ``balancer acl`` prints: one per user, replacing it whole, each key
pattern scoped as narrowly as its role needs (the real server runs them in
tests/integration/test_acl_roles.py and test_acl_attacks.py)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from balancer.acl.users import ROLES, agent, new_password, roles
from balancer.cli.main import main
from balancer.errors import InputError


def test_an_agent_line_writes_only_its_own_hosts_keys() -> None:
    line = agent("kvm-01").setuser("pw")
    assert line.startswith("ACL SETUSER agent-kvm-01 reset on >pw +auth +hello +ping ")
    selectors = re.findall(r"\(([^)]*)\)", line)
    assert "%W~kvmb:host:kvm-01:report +set" in selectors
    assert "%W~kvmb:host:kvm-01:alive +set" in selectors
    assert "%W~kvmb:host:kvm-01:history +xadd" in selectors
    assert "%R~kvmb:schema +get" in selectors  # read only: an admin sets it
    assert "~kvmb:generation +incr" in selectors  # no INCRBY: one step per publish
    writes = [p for s in selectors for p in s.split() if p.startswith(("%W~", "~"))]
    assert all(p.endswith(("kvm-01:report", "kvm-01:alive", "kvm-01:history", ":hosts",
                           ":generation")) for p in writes), writes  # fmt: skip
    assert "@connection" not in line
    assert "@all" not in line
    assert "*" not in line


def test_each_role_once_in_order_with_its_own_password() -> None:
    users = roles("kvmb")
    assert tuple(u.name for u in users) == ROLES
    lines = [u.setuser(new_password()) for u in users]
    passwords = {re.search(r" >(\S+) ", line).group(1) for line in lines}  # type: ignore[union-attr]
    assert len(passwords) == len(ROLES)
    reader = lines[0]
    assert re.findall(r"\(([^)]*)\)", reader)[0].startswith("%R~kvmb:* ")
    assert "%W~" not in reader
    assert " ~" not in reader


def test_only_the_operator_daemon_and_worker_write_their_keys() -> None:
    by_role = {u.name: u.setuser("pw") for u in roles()}
    assert "kvmb:op:policy" in by_role["operator"]
    assert all("op:" not in by_role[r] for r in ("dispatcher", "worker", "daemon"))
    assert "kvmb:exec:*" in by_role["worker"]
    assert all("exec:*" not in by_role[r] for r in ("operator", "dispatcher", "daemon"))
    assert "kvmb:ctl:*" in by_role["daemon"]
    assert "sim:" not in by_role["worker"]
    assert "kvmb:sim:*" in next(u for u in roles(fleet=True) if u.name == "worker").setuser("p")


@pytest.mark.parametrize("name", ["", "h 1", "h*", "h?", "h[1]", "(h)", "-h", 'h"', "h\\1"])
def test_a_name_that_is_not_one_plain_acl_argument_is_refused(name: str) -> None:
    with pytest.raises(InputError):
        agent(name)
    with pytest.raises(InputError):
        roles(name)


def test_a_password_with_white_space_is_refused() -> None:
    with pytest.raises(InputError):
        agent("h1").setuser("two words")


def test_the_commands_print_one_line_per_user_with_new_passwords() -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["acl", "agent", "h1", "h2"])
    again = runner.invoke(main, ["acl", "agent", "h1", "h2"])
    assert first.exit_code == 0, first.output
    assert [line.split()[2] for line in first.output.splitlines()] == ["agent-h1", "agent-h2"]
    assert first.output != again.output  # a new password every time
    some = runner.invoke(main, ["acl", "roles", "reader", "worker", "--prefix", "c2"])
    assert [line.split()[2] for line in some.output.splitlines()] == ["reader", "worker"]
    assert "%R~c2:*" in some.output
    assert "kvmb" not in some.output
    bad = runner.invoke(main, ["acl", "agent", "h*"])
    assert bad.exit_code == 2
    assert "cannot be put in an ACL" in bad.output
