-- No query looks reports up by their H3 res-6 cell any more: map clusters at that resolution are
-- summed from `report_cells` (0008). The column stays (the counters are keyed by it); its index
-- only cost every create one more B-tree insert.
DROP INDEX reports_h3_r6_idx;
