"""One port serves the ledger and the AWS services, side by side, through real clients."""

from __future__ import annotations

import json
import time

from pyqldb.driver.qldb_driver import QldbDriver

from tests.local.conftest import Running


def test_pyqldb_s3_and_step_functions_side_by_side_on_one_port(aws: Running) -> None:
    aws.create_ledger("orders")
    driver = QldbDriver("orders", endpoint_url=aws.url, region_name="us-east-1")
    driver.execute_lambda(lambda t: t.execute_statement("CREATE TABLE T"))
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="vault-primary")
    s3.put_object(Bucket="vault-primary", Key="k", Body=b"v")
    assert s3.get_object(Bucket="vault-primary", Key="k")["Body"].read() == b"v"
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="hello",
        roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps(
            {"StartAt": "Say", "States": {"Say": {"Type": "Pass", "Result": {"said": "hi"}, "End": True}}}
        ),
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="one", input="{}")["executionArn"]
    deadline = time.monotonic() + 30
    while (status := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status["status"] == "SUCCEEDED", status
    assert json.loads(status["output"]) == {"said": "hi"}, status
    assert list(driver.list_tables()) == ["T"]
    driver.close()
