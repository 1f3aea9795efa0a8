"""The destination's definition: disk path prefixes and network names rewritten."""

from __future__ import annotations

from workers.executor.dest_xml import disk_paths, new_path, rewrite

DOMAIN = """<domain type='qemu'><name>g</name><devices>
  <disk type='file' device='disk'><source file='/srv/a/shared/g.img'/><target dev='vda'/></disk>
  <disk type='file' device='disk'><source file='/srv/a/sharedx/h.img'/><target dev='vdb'/></disk>
  <disk type='block' device='disk'><source dev='/dev/vg/g'/><target dev='vdc'/></disk>
  <interface type='network'><source network='lab-net'/></interface>
  <interface type='network'><source network='other'/></interface>
</devices></domain>"""


def test_paths_under_a_prefix_and_networks_are_renamed() -> None:
    out = rewrite(DOMAIN, {"/srv/a/shared": "/srv/b/shared-b"}, {"lab-net": "mig-net"})
    assert disk_paths(out) == {
        "vda": "/srv/b/shared-b/g.img",
        "vdb": "/srv/a/sharedx/h.img",  # a longer directory name is not under the prefix
        "vdc": "/dev/vg/g",
    }
    assert "network='mig-net'" in out.replace('"', "'")
    assert "network='other'" in out.replace('"', "'")


def test_the_longest_prefix_wins_and_trailing_slashes_do_not_matter() -> None:
    paths = {"/srv/": "/x/", "/srv/a/shared/": "/y"}
    assert new_path("/srv/a/shared/g.img", paths) == "/y/g.img"
    assert new_path("/srv/other/g.img", paths) == "/x/other/g.img"
    assert new_path("/elsewhere/g.img", paths) == "/elsewhere/g.img"


def test_nothing_to_rewrite_returns_the_definition_as_it_is() -> None:
    assert rewrite(DOMAIN, {}, {}) is DOMAIN
