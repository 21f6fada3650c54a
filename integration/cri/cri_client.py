#!/usr/bin/python3
"""cri_client.py - a small crictl stand-in: drives a CRI runtime (runtime.v1) over its gRPC socket the way a
kubelet does, from the minimal api.proto next to this file (compiled with protoc on first use).

usage: cri_client.py --socket PATH COMMAND ARGS...
  version                          runtime name and version
  wait-image IMAGE [SECONDS]       until the image service knows IMAGE
  runp POD.json [HANDLER]          RunPodSandbox (runtime_handler=HANDLER); prints the sandbox id
  inspectp POD_ID                  PodSandboxStatus as JSON
  create POD_ID CTR.json POD.json  CreateContainer; prints the container id
  start CTR_ID                     StartContainer
  exec CTR_ID CMD...               ExecSync: the command's stdout/stderr, exits with its exit code
  inspect CTR_ID                   ContainerStatus as JSON
  stop CTR_ID [TIMEOUT]            StopContainer
  rm CTR_ID                        RemoveContainer
  stopp POD_ID                     StopPodSandbox
  rmp POD_ID                       RemovePodSandbox
Config files are JSON in the proto3 JSON mapping (camelCase or snake_case field names).
"""
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time

import grpc
from google.protobuf import json_format

HERE = os.path.dirname(os.path.abspath(__file__))


def load_api():
    """Import api_pb2, generating it with protoc into CRI_GEN_DIR (or a private temp dir) when needed."""
    gen = os.environ.get("CRI_GEN_DIR") or tempfile.mkdtemp(prefix="cri-gen.")
    if not os.path.exists(os.path.join(gen, "api_pb2.py")):
        os.makedirs(gen, exist_ok=True)
        subprocess.run(["protoc", "-I", HERE, "--python_out=" + gen, os.path.join(HERE, "api.proto")], check=True)
    sys.path.insert(0, gen)
    return importlib.import_module("api_pb2")


class Cri:
    def __init__(self, socket, api, timeout):
        self.api = api
        self.timeout = timeout
        self.channel = grpc.insecure_channel("unix://" + socket)

    def call(self, service, method, request):
        response_type = getattr(self.api, method + "Response")
        if method == "ImageStatus":
            response_type = self.api.ImageStatusResponse
        rpc = self.channel.unary_unary("/runtime.v1.%s/%s" % (service, method),
                                       request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=response_type.FromString)
        return rpc(request, timeout=self.timeout)

    def rt(self, method, **fields):
        return self.call("RuntimeService", method, getattr(self.api, method + "Request")(**fields))


def read_json(api, path, message):
    with open(path) as f:
        return json_format.ParseDict(json.load(f), getattr(api, message)())


def dump(message):
    print(json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True), indent=1, sort_keys=True))


def main(argv):
    args = argv[1:]
    socket = None
    timeout = 60.0
    while args and args[0].startswith("--"):
        if args[0] == "--socket" and len(args) > 1:
            socket, args = args[1], args[2:]
        elif args[0] == "--timeout" and len(args) > 1:
            timeout, args = float(args[1]), args[2:]
        else:
            break
    if socket is None or not args:
        sys.stderr.write(__doc__)
        return 2
    api = load_api()
    cri = Cri(socket, api, timeout)
    cmd, rest = args[0], args[1:]

    if cmd == "version":
        v = cri.rt("Version", version="v1")
        print(v.runtime_name, v.runtime_version, v.runtime_api_version)
    elif cmd == "wait-image":
        deadline = time.time() + (float(rest[1]) if len(rest) > 1 else 30)
        while True:
            r = cri.call("ImageService", "ImageStatus", api.ImageStatusRequest(image=api.ImageSpec(image=rest[0])))
            if r.HasField("image"):
                print(r.image.id)
                break
            if time.time() > deadline:
                sys.stderr.write("image %s unknown to the CRI image service\n" % rest[0])
                return 1
            time.sleep(0.2)
    elif cmd == "runp":
        config = read_json(api, rest[0], "PodSandboxConfig")
        handler = rest[1] if len(rest) > 1 else ""
        print(cri.rt("RunPodSandbox", config=config, runtime_handler=handler).pod_sandbox_id)
    elif cmd == "inspectp":
        dump(cri.rt("PodSandboxStatus", pod_sandbox_id=rest[0]))
    elif cmd == "create":
        config = read_json(api, rest[1], "ContainerConfig")
        sandbox = read_json(api, rest[2], "PodSandboxConfig")
        print(cri.rt("CreateContainer", pod_sandbox_id=rest[0], config=config, sandbox_config=sandbox).container_id)
    elif cmd == "start":
        cri.rt("StartContainer", container_id=rest[0])
    elif cmd == "exec":
        r = cri.rt("ExecSync", container_id=rest[0], cmd=rest[1:], timeout=int(timeout))
        sys.stdout.buffer.write(r.stdout)
        sys.stderr.buffer.write(r.stderr)
        return r.exit_code
    elif cmd == "inspect":
        dump(cri.rt("ContainerStatus", container_id=rest[0]))
    elif cmd == "stop":
        cri.rt("StopContainer", container_id=rest[0], timeout=int(rest[1]) if len(rest) > 1 else 0)
    elif cmd == "rm":
        cri.rt("RemoveContainer", container_id=rest[0])
    elif cmd == "stopp":
        cri.rt("StopPodSandbox", pod_sandbox_id=rest[0])
    elif cmd == "rmp":
        cri.rt("RemovePodSandbox", pod_sandbox_id=rest[0])
    else:
        sys.stderr.write("unknown command %s\n%s" % (cmd, __doc__))
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except grpc.RpcError as e:
        sys.stderr.write("cri: %s: %s\n" % (e.code().name, e.details()))
        sys.exit(1)
