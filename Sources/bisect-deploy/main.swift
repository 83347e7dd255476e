import BisectCLI

BisectDeploy.runAndExit()
