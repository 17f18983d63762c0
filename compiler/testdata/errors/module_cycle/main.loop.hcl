# a uses b, b uses a: a cycle, reported where it closes.
module "a" {
  source = "./a"
}
