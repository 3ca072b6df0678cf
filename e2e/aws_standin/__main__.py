"""TEST DOUBLE for the e2e only: `python -m e2e.aws_standin` serves the AWS stand-in provider."""

from e2e.aws_standin.provider import main

main()
