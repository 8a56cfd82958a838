<#
.SYNOPSIS
  Registers a Windows scheduled task that pushes the EXM templates from this
  (primary CM) server to the other CM and dispatch servers with exmsync.

.DESCRIPTION
  The task runs every -IntervalMinutes under -Account (a domain service
  account, or a group managed service account ending in '$', which needs no
  password). Each run appends exmsync's output to -LogFile; exmsync's exit code
  (0 all in sync, 1 a target failed, 2 an error) is the task's "last run
  result" in Task Scheduler's history.

.EXAMPLE
  .\register-task.ps1 -Account 'CONTOSO\svc-exmsync' `
      -Targets '\\cm02\wwwroot$\Website\layouts\EmailCampaign\Imported',
               '\\dds01\wwwroot$\Website\layouts\EmailCampaign\Imported'
#>
param(
  [Parameter(Mandatory = $true)] [string]   $Account,
  [Parameter(Mandatory = $true)] [string[]] $Targets,
  [string] $Source = 'C:\inetpub\wwwroot\Website\layouts\EmailCampaign\Imported',
  [string] $Exmsync = (Join-Path $PSScriptRoot 'exmsync.exe'),
  [string] $LogFile = 'C:\ProgramData\exmsync\push.log',
  [int]    $IntervalMinutes = 5,
  [string] $TaskName = 'exmsync push EXM templates'
)
$ErrorActionPreference = 'Stop'

if (-not (Test-Path -LiteralPath $Exmsync)) { throw "exmsync.exe not found at $Exmsync (give -Exmsync)" }
if (-not (Test-Path -LiteralPath $Source)) { throw "source folder $Source does not exist (give -Source)" }
New-Item -ItemType Directory -Force -Path (Split-Path -Parent $LogFile) | Out-Null

# cmd.exe appends both output streams to the log and returns exmsync's exit
# code, which Task Scheduler records as the run's result.
$quoted = @($Source) + $Targets | ForEach-Object { '"' + $_ + '"' }
$command = '"' + $Exmsync + '" push ' + ($quoted -join ' ') + ' >> "' + $LogFile + '" 2>&1'
$action = New-ScheduledTaskAction -Execute 'cmd.exe' -Argument "/d /c `"$command`""
$trigger = New-ScheduledTaskTrigger -Once -At (Get-Date).AddMinutes(1) `
  -RepetitionInterval (New-TimeSpan -Minutes $IntervalMinutes)
# One run at a time: a push still running when the next is due is not doubled
# (exmsync's target lock would refuse it anyway).
$settings = New-ScheduledTaskSettingsSet -MultipleInstances IgnoreNew `
  -ExecutionTimeLimit (New-TimeSpan -Hours 1) -StartWhenAvailable

if ($Account.EndsWith('$')) {
  $principal = New-ScheduledTaskPrincipal -UserId $Account -LogonType Password
  Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Settings $settings `
    -Principal $principal -Force | Out-Null
} else {
  $credential = Get-Credential -UserName $Account -Message "Password of $Account for the scheduled task"
  Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Settings $settings `
    -User $Account -Password $credential.GetNetworkCredential().Password -RunLevel Limited -Force | Out-Null
}
Write-Output "Registered '$TaskName': every $IntervalMinutes min as $Account; log: $LogFile"
Write-Output "Run it now with: Start-ScheduledTask -TaskName '$TaskName'"
