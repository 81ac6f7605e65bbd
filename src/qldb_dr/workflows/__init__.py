"""Step Functions from the operator's side: start, follow and report executions."""
