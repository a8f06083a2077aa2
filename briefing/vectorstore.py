"""The vector-store component: embedded Chroma by default, a Chroma server when configured."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlparse

from briefing.settings import Settings


@lru_cache(maxsize=8)
def _client(index_dir: str, url: str | None):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if url:
        parsed = urlparse(url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise ValueError(f"BRIEFING_CHROMA_URL is not an http(s) URL: {url}")
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
        return chromadb.HttpClient(
            host=parsed.hostname, port=port, ssl=parsed.scheme == "https", settings=chroma_settings
        )
    return chromadb.PersistentClient(path=f"{index_dir}/chroma", settings=chroma_settings)


def get_collection(settings: Settings):
    """The Chroma collection (cosine space) that holds the chunk vectors, searched with
    `hnsw_ef_search` candidates (an existing collection is brought to that value)."""
    client = _client(str(settings.index_dir), settings.chroma_url)
    ef_search = settings.hnsw_ef_search
    # Only `configuration` is read when both are given: "hnsw:space" metadata next to it would
    # silently make a new collection l2.
    collection = client.get_or_create_collection(
        settings.collection, configuration={"hnsw": {"space": "cosine", "ef_search": ef_search}}
    )
    if (collection.configuration_json.get("hnsw") or {}).get("ef_search") != ef_search:
        collection.modify(configuration={"hnsw": {"ef_search": ef_search}})
    return collection


def get_vector_store(settings: Settings):
    """LlamaIndex's ChromaVectorStore over the collection."""
    from llama_index.vector_stores.chroma import ChromaVectorStore

    return ChromaVectorStore(chroma_collection=get_collection(settings))
