"""The cluster file creates Kura's collections sharded over its nodes and replicated like the nodes say."""

from __future__ import annotations

from core.index_layout import IndexLayout
from core.settings import Settings
from tests.deploy.test_compose import load


def test_kura_services_shard_over_every_node_with_the_nodes_replication():
    cluster = load("docker-compose.cluster.yml")
    nodes = [name for name in cluster["services"] if name.startswith("qdrant")]
    replication = cluster["services"]["qdrant"]["environment"]["QDRANT__STORAGE__COLLECTION__REPLICATION_FACTOR"]
    for service in ("web", "slackbot", "reindex"):
        env = cluster["services"][service]["environment"]
        settings = Settings(**{k[len("KURA_"):].lower(): v for k, v in env.items() if k.startswith("KURA_")})
        layout = IndexLayout.from_settings(settings)
        assert layout.shards == len(nodes), service
        assert layout.replication == int(replication), service
