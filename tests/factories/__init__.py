"""Fixed, named data for the tests: each builder writes the rows the product writes.

No random factories: every builder makes the same rows with the same names each time, so a
failing assertion names a plan, an item or an alert a reader can find here. One module per
area; import each builder from its module.
"""
