"""Data: interaction records, the LLM catalog, public benchmark loaders and splits."""

from irtrouter.data.benchmarks import (
    BENCHMARKS,
    Benchmark,
    bundled_catalog,
    default_data_root,
    detect_benchmark,
    load_benchmark,
)
from irtrouter.data.catalog import LLMCatalog, LLMSpec, load_catalog
from irtrouter.data.readers import read_results
from irtrouter.data.results import ResultsMatrix, results_from_frame
from irtrouter.data.splits import (
    drop_seen_queries,
    split_in_distribution,
    split_llms,
    split_out_of_distribution,
    validation_split,
)
from irtrouter.data.tokens import estimate_tokens

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "LLMCatalog",
    "LLMSpec",
    "ResultsMatrix",
    "bundled_catalog",
    "default_data_root",
    "detect_benchmark",
    "drop_seen_queries",
    "estimate_tokens",
    "load_benchmark",
    "load_catalog",
    "read_results",
    "results_from_frame",
    "split_in_distribution",
    "split_llms",
    "split_out_of_distribution",
    "validation_split",
]
