//! The integer (int8) execution path: quantised kernels, the tract ops that
//! call them and the graph pass that swaps them in after import (issue 13
//! item 2). Owned by the int8 work; the loader calls its pass once.
