"""``skposter serve``: the poster page for a saved model."""

import logging
import sys

# The module, not its names: skposter.serve reads skposter.cli's helpers, so whichever
# of the two is imported first finds the other partly initialised.
from .. import load, serve


def add_serve_parser(commands):
    parser = commands.add_parser(
        "serve",
        help="a web page: drop a poster, see its genre probabilities and heat maps",
        description=(
            "Serve one web page for a model saved by 'skposter train' (only load files "
            "you trust: loading a pickle runs code). Drop or choose a poster to see each "
            "genre's probability as a bar with the model's threshold marked, the "
            "predicted genres and heat maps of the top genres (for models skposter."
            "inspection can map). Posters-only models: a model trained with --metadata "
            "is refused on the page. Stop with Ctrl+C."
        ),
    )
    parser.add_argument("--model", metavar="FILE", required=True,
                        help="model file written by 'skposter train' or skposter.save")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default: %(default)s, this machine "
                             "only; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8000,
                        help="port (default: %(default)s; 0 picks a free one)")
    parser.add_argument("--max-upload-mb", type=float, default=serve.DEFAULT_MAX_UPLOAD_BYTES / 1e6,
                        metavar="MB",
                        help="largest upload accepted, in megabytes (default: %(default)g)")
    parser.set_defaults(run=run_serve)


def run_serve(args):
    model = load(args.model)
    server = serve.make_server(model, host=args.host, port=args.port,
                         max_upload_bytes=args.max_upload_mb * 1e6)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log = logging.getLogger("skposter.serve")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    print(f"skposter serve: {args.model} at {server.url} (Ctrl+C stops)", flush=True)
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("skposter serve: stopped", flush=True)
        finally:
            log.removeHandler(handler)
