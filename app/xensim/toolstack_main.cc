/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Placeholder until the toolstack lands. */
int main()
{
	return 1;
}
