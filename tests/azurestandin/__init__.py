"""Local stand-in for the parts of Azure Resource Manager, Microsoft Entra ID and Microsoft
Graph that roles/azure_prometheus uses (see README.md in this directory).

Named ``azurestandin`` (not ``azure``): a package called ``azure`` on PYTHONPATH would hide
the Azure SDK namespace package whose models the stand-in validates against.
"""
