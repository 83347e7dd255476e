import BisectCLI

await BisectDeploy.runAndExit()
