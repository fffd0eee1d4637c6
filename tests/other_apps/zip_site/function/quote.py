import os

import boto3
import quotes

s3 = boto3.client("s3")


def handler(event, context):
    page = s3.get_object(Bucket=os.environ["SITE_BUCKET"], Key="index.html")["Body"].read().decode()
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    return {"quote": quotes.pick(int(event.get("n", 0))), "site": title}
