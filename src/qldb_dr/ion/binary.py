"""placeholder until the binary codec lands"""
from amazon.ion import simpleion

def iter_binary(data):
    yield from simpleion.loads(data, single_value=False)

def load_binary(data):
    return simpleion.loads(data)

def dump_binary(values):
    return simpleion.dumps(list(values), sequence_as_stream=True, binary=True)
