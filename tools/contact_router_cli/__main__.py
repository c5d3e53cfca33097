from contact_router_cli.main import main

main(prog_name="contact-router")
