"""The benchmark app on bottle with the stdlib wsgiref server.   python bottle_app.py PORT"""
import sys

import bottle

from _common import MESSAGE

app = bottle.Bottle()


@app.get("/plaintext")
def plaintext():
    bottle.response.content_type = "text/plain"
    return MESSAGE


@app.get("/json")
def json_():
    return {"message": MESSAGE}


if __name__ == "__main__":
    bottle.run(app, server="wsgiref", host="127.0.0.1", port=int(sys.argv[1]), quiet=True)
