"""Bytes per element of the dtypes that memory figures and traffic are computed at."""
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
