"""`qldb-dr console`: a small web console on localhost — the workflows drawn from their ASL and
coloured live from each execution's history, Distributed Map runs and their failed items,
recovery points, restores and drills; Start restore (plan shown first), Retry failed batches,
Start drill. It reads through boto3 only (Step Functions and S3), so pointing it at AWS takes
nothing but credentials; drills need the local endpoint.

* `graph`: a workflow's ASL laid out as boxes and arrows;
* `views`: what each page shows, read through boto3;
* `actions`: what the buttons do;
* `server`: the JSON API and the static page (no build step).
"""
