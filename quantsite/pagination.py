"""The API lists' pagination: pages of PAGE_SIZE (100) rows, `page_size` up to 1000."""

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1000
